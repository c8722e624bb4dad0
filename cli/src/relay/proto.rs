//! What the supervisor and its clients say to each other over the job's
//! socket: frames of `kind (1 byte) | length (4 bytes, big-endian) |
//! payload`. Unknown kinds are skipped, so either side may learn new ones.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;

use super::os;
use super::pty::Winsize;

/// Bumped when a frame changes meaning; a client and a supervisor of
/// different versions refuse each other with a clear message.
pub const VERSION: u32 = 1;

pub const HEADER: usize = 5;
/// The largest payload either side sends.
pub const MAX_PAYLOAD: usize = 16 * 1024;

// Client to supervisor.
/// `version u32, replay u32`: attach, replaying up to `replay` bytes of log.
pub const HELLO: u8 = b'h';
/// Keys for the program's terminal.
pub const INPUT: u8 = b'i';
/// `rows u16, cols u16, xpixel u16, ypixel u16`.
pub const RESIZE: u8 = b'w';
/// Continue the program (after fg/bg, or on attaching to a stopped job).
pub const CONTINUE: u8 = b'c';
/// The client leaves; the job goes on.
pub const DETACH: u8 = b'd';
/// `signal u32`: send it to the program's process group (signals sent to
/// the `hupsafe` that started the job are meant for the program).
pub const SIGNAL: u8 = b'k';
/// The client's terminal, passed with the frame (SCM_RIGHTS): the
/// supervisor may write the output there itself, as tmux's server writes
/// to its clients' terminals, one hop less for every byte. Answered by
/// [`TAKEN`]; nothing goes there before [`READY`].
pub const TERMINAL: u8 = b't';
/// The output sent before [`TAKEN`] is on the terminal: from here the
/// supervisor writes it there.
pub const READY: u8 = b'r';
/// The client is about to write to its terminal itself, stop or leave:
/// the supervisor stops writing there and answers [`GIVEN_BACK`].
pub const TAKE_BACK: u8 = b'b';

// Supervisor to client.
/// JSON: `{"id", "pid", "state"}`.
pub const WELCOME: u8 = b'H';
/// What the program wrote to its terminal.
pub const OUTPUT: u8 = b'o';
/// `signal u32`: the program stopped.
pub const STOPPED: u8 = b'S';
/// The program continued.
pub const CONTINUED: u8 = b'C';
/// `killed u8, value u32`: the program ended (exit code, or signal).
pub const EXITED: u8 = b'X';
/// UTF-8 text: the supervisor refuses the client, or the job failed.
pub const ERROR: u8 = b'E';
/// Bytes that give the client's terminal back to its user (main screen,
/// modes off, title popped): the answer to DETACH, and sent before EXITED
/// to a client that was drawn the job's screen.
pub const RESTORE: u8 = b'R';
/// The terminal passed with [`TERMINAL`] is taken: the output before
/// this frame came through the socket; the output after it goes to the
/// terminal once the client answers [`READY`]. A supervisor that
/// cannot write there drops it without a word (the output comes through
/// the socket again, as before).
pub const TAKEN: u8 = b'T';
/// The answer to [`TAKE_BACK`]: the supervisor no longer writes to the
/// client's terminal (everything after comes through the socket).
pub const GIVEN_BACK: u8 = b'B';
/// Frames whose payload is bytes for the user's terminal: written there
/// by the supervisor when it holds the terminal (a RESTORE then still goes
/// through the socket, empty, to say the restore is done).
pub fn for_the_terminal(kind: u8) -> bool {
    kind == OUTPUT || kind == RESTORE
}

/// Appends one frame to a queue.
pub fn put(out: &mut VecDeque<u8>, kind: u8, payload: &[u8]) {
    out.push_back(kind);
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload);
}

/// One frame as bytes.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + payload.len());
    v.push(kind);
    v.extend((payload.len() as u32).to_be_bytes());
    v.extend(payload);
    v
}

pub fn resize_payload(ws: &Winsize) -> [u8; 8] {
    let mut p = [0; 8];
    p[0..2].copy_from_slice(&ws.ws_row.to_be_bytes());
    p[2..4].copy_from_slice(&ws.ws_col.to_be_bytes());
    p[4..6].copy_from_slice(&ws.ws_xpixel.to_be_bytes());
    p[6..8].copy_from_slice(&ws.ws_ypixel.to_be_bytes());
    p
}

pub fn parse_resize(p: &[u8]) -> Option<Winsize> {
    if p.len() < 8 {
        return None;
    }
    let n = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    Some(Winsize {
        ws_row: n(0),
        ws_col: n(2),
        ws_xpixel: n(4),
        ws_ypixel: n(6),
    })
}

pub fn u32_at(p: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
}

/// Incoming frames from one peer, in a fixed buffer: a peer that sends
/// faster than we handle simply waits (we stop reading it).
pub struct Decoder {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

/// A frame longer than [`MAX_PAYLOAD`]: the peer is not speaking this
/// protocol.
#[derive(Debug)]
pub struct Garbled;

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            buf: vec![0; HEADER + MAX_PAYLOAD].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }
}

impl Decoder {
    /// Whether there is room to read more.
    pub fn has_room(&self) -> bool {
        self.end < self.buf.len() || self.start > 0
    }

    /// Reads once from `fd` into the free space. `Ok(0)` is end of file.
    pub fn fill_from(&mut self, fd: impl AsFd) -> io::Result<usize> {
        self.fill(|buf| os::read(&fd, buf))
    }

    /// As [`fill_from`](Self::fill_from), from a socket that may pass a
    /// descriptor with a frame ([`TERMINAL`]): it lands in `passed`.
    pub fn fill_keeping_fd(
        &mut self,
        sock: impl AsFd,
        passed: &mut Option<std::os::fd::OwnedFd>,
    ) -> io::Result<usize> {
        self.fill(|buf| os::recv_keeping_fd(&sock, buf, passed))
    }

    fn fill(&mut self, read: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
        if self.start > 0 && self.end == self.buf.len() || self.start == self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// The kind and payload of the first complete frame, if there is one.
    pub fn peek(&self) -> Result<Option<(u8, &[u8])>, Garbled> {
        let have = &self.buf[self.start..self.end];
        if have.len() < HEADER {
            return Ok(None);
        }
        let len = u32::from_be_bytes([have[1], have[2], have[3], have[4]]) as usize;
        if len > MAX_PAYLOAD {
            return Err(Garbled);
        }
        if have.len() < HEADER + len {
            return Ok(None);
        }
        Ok(Some((have[0], &have[HEADER..HEADER + len])))
    }

    /// Drops the first frame (after [`peek`](Self::peek) returned it).
    pub fn consume(&mut self) {
        if let Ok(Some((_, p))) = self.peek() {
            self.start += HEADER + p.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_a_socket() {
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut bytes = frame(INPUT, b"hello");
        bytes.extend(frame(
            RESIZE,
            &resize_payload(&Winsize {
                ws_row: 40,
                ws_col: 100,
                ws_xpixel: 0,
                ws_ypixel: 0,
            }),
        ));
        // Half a frame first: nothing to peek yet.
        os::write_all(&w, &bytes[..3]).unwrap();
        let mut d = Decoder::default();
        d.fill_from(&r).unwrap();
        assert!(d.peek().unwrap().is_none());
        os::write_all(&w, &bytes[3..]).unwrap();
        d.fill_from(&r).unwrap();
        let (k, p) = d.peek().unwrap().unwrap();
        assert_eq!((k, p), (INPUT, &b"hello"[..]));
        d.consume();
        let (k, p) = d.peek().unwrap().unwrap();
        assert_eq!(k, RESIZE);
        let ws = parse_resize(p).unwrap();
        assert_eq!((ws.ws_row, ws.ws_col), (40, 100));
        d.consume();
        assert!(d.peek().unwrap().is_none());
    }

    #[test]
    fn a_descriptor_passed_with_a_frame_arrives_with_it() {
        use std::os::fd::AsFd;
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let frame = frame(TERMINAL, &[]);
        assert_eq!(
            os::send_with_fd(&w, &frame, file.as_fd()).unwrap(),
            frame.len()
        );
        let mut d = Decoder::default();
        let mut passed = None;
        d.fill_keeping_fd(&r, &mut passed).unwrap();
        assert_eq!(d.peek().unwrap(), Some((TERMINAL, &[][..])));
        let passed = passed.expect("the descriptor came with the frame");
        let ino = |fd: std::os::fd::BorrowedFd| rustix::fs::fstat(fd).unwrap().st_ino;
        assert_eq!(ino(passed.as_fd()), ino(file.as_fd()));
        // A plain frame passes nothing.
        os::write_all(&w, &super::frame(INPUT, b"k")).unwrap();
        d.consume();
        let mut none = None;
        d.fill_keeping_fd(&r, &mut none).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn oversized_frames_are_refused() {
        let mut d = Decoder::default();
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        os::write_all(&w, &[INPUT, 0xff, 0xff, 0xff, 0xff]).unwrap();
        d.fill_from(&r).unwrap();
        assert!(d.peek().is_err());
    }
}
