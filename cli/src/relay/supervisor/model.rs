//! Feeding the screen model from the log, behind the relay: the pacing
//! and the reading that the program supervisor and a protected line's
//! supervisor share (each keeps its own [`Screen`] and loop).

use std::time::{Duration, Instant};

use super::log::Log;
use super::screen::Screen;

/// Bytes of log the model reads at a time.
pub const CATCH_UP_READ: usize = 64 * 1024;
/// What the model parses in a turn of the loop with nothing else to do.
pub const CATCH_UP_BUDGET: usize = 256 * 1024;
/// Less than a read behind, the model waits this long after the last
/// output before it parses.
pub const CATCH_UP_AFTER: Duration = Duration::from_millis(10);
/// Behind by more than this, the model also parses in busy turns (a
/// budget each), so that an attach never waits long for it.
pub const BACKLOG_MAX: u64 = 16 << 20;

/// How many logged bytes `screen` has not parsed yet.
pub fn behind(screen: Option<&Screen>, log: &Log) -> u64 {
    screen.map_or(0, |s| log.end().saturating_sub(s.parsed))
}

/// How long a model `behind` bytes behind may wait before parsing, the
/// last output having come at `last_output`: nothing to parse, none; a
/// read's worth, or output paused for [`CATCH_UP_AFTER`], now. Parsing in
/// large batches is what lets the fast path skip most of a flood.
pub fn wait(behind: u64, last_output: Instant) -> Option<Duration> {
    match behind {
        0 => None,
        n if n >= CATCH_UP_READ as u64 => Some(Duration::ZERO),
        _ => Some(CATCH_UP_AFTER.saturating_sub(last_output.elapsed())),
    }
}

/// Feeds `screen` from `log` up to offset `until`, at most `budget` bytes
/// (about: a feed ends on a line when it can), reading into `buf` (at
/// least [`CATCH_UP_READ`] long). The last output came at `last_output`.
pub fn catch_up(
    screen: &mut Screen,
    log: &Log,
    buf: &mut [u8],
    last_output: Instant,
    until: u64,
    budget: usize,
) {
    // While output flows and the model is not needed at once, each feed
    // ends after a line feed (the rest is read again next time): a run of
    // plain lines then goes on from feed to feed, and the fast path skips
    // it (docs/SCREEN-MODEL.md, section 6).
    let whole_lines = budget != usize::MAX && last_output.elapsed() < CATCH_UP_AFTER;
    let until = until.min(log.end());
    let mut left = budget;
    while screen.parsed < until && left > 0 {
        // Bytes rotated away before the model read them (it is kept ahead
        // of rotations, so only a log cut by hand) are lost to it.
        screen.parsed = screen.parsed.max(log.first());
        let want = ((until - screen.parsed) as usize).min(left).min(buf.len());
        match log.read_at(&mut buf[..want], screen.parsed) {
            Some(mut n) => {
                if whole_lines {
                    match buf[..n].iter().rposition(|&b| b == b'\n') {
                        Some(p) => n = p + 1,
                        // The rest of a line still being written (a whole
                        // read of it is fed: the loop must not wait for a
                        // line end that may not come).
                        None if screen.parsed + n as u64 >= until && n < buf.len() => return,
                        None => {}
                    }
                }
                screen.feed(&buf[..n]);
                screen.parsed += n as u64;
                left = left.saturating_sub(n);
            }
            // Truncated by hand or unreadable: those bytes are lost.
            None => screen.parsed = until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_waits_for_a_reads_worth_or_a_pause() {
        let now = Instant::now();
        assert_eq!(wait(0, now), None, "nothing to parse");
        assert_eq!(wait(CATCH_UP_READ as u64, now), Some(Duration::ZERO));
        let soon = wait(10, now).unwrap();
        assert!(soon > Duration::ZERO && soon <= CATCH_UP_AFTER);
        let paused = now - CATCH_UP_AFTER;
        assert_eq!(wait(10, paused), Some(Duration::ZERO));
    }

    #[test]
    fn while_output_flows_a_budgeted_feed_ends_on_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = super::super::log::tests::log_in(&dir);
        log.append(b"one\ntwo\nthr");
        let mut screen = Screen::new(80, 24, 100);
        let mut buf = vec![0; CATCH_UP_READ];
        let flowing = Instant::now();
        catch_up(
            &mut screen,
            &log,
            &mut buf,
            flowing,
            u64::MAX,
            CATCH_UP_BUDGET,
        );
        assert_eq!(screen.parsed, 8, "the line still being written waits");
        assert_eq!(behind(Some(&screen), &log), 3);
        // Needed now (an attach): everything.
        catch_up(&mut screen, &log, &mut buf, flowing, u64::MAX, usize::MAX);
        assert_eq!(screen.parsed, log.end());
        assert_eq!(behind(Some(&screen), &log), 0);
        assert_eq!(behind(None, &log), 0, "no model is never behind");
    }
}
