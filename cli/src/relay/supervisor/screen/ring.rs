//! The scrollback: the model's lines that left the top of the main screen,
//! kept as SGR-formatted text (about a byte per character), bounded by a
//! number of lines and of bytes. avt could keep them itself, at about 1.4 KiB
//! a line (docs/SCREEN-MODEL.md, "Memory").

use std::collections::VecDeque;

pub struct Ring {
    text: VecDeque<u8>,
    /// Each line's length in `text`, oldest first.
    lens: VecDeque<u32>,
    max_lines: usize,
    max_bytes: usize,
}

impl Ring {
    pub fn new(max_lines: usize, max_bytes: usize) -> Ring {
        Ring {
            text: VecDeque::new(),
            lens: VecDeque::new(),
            max_lines,
            max_bytes,
        }
    }

    pub fn push(&mut self, line: &[u8]) {
        if self.max_lines == 0 || line.len() > self.max_bytes {
            return;
        }
        while self.lens.len() >= self.max_lines || self.text.len() + line.len() > self.max_bytes {
            let Some(n) = self.lens.pop_front() else {
                break;
            };
            self.text.drain(..n as usize);
        }
        self.text.extend(line);
        self.lens.push_back(line.len() as u32);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let mut at = 0;
        self.lens.iter().map(move |&n| {
            let line = self.text.range(at..at + n as usize).copied().collect();
            at += n as usize;
            line
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_lines_within_both_bounds() {
        let mut r = Ring::new(3, 100);
        for i in 0..10 {
            r.push(format!("line {i}").as_bytes());
        }
        let got: Vec<Vec<u8>> = r.lines().collect();
        assert_eq!(
            got,
            vec![b"line 7".to_vec(), b"line 8".to_vec(), b"line 9".to_vec()]
        );
        let mut r = Ring::new(1000, 20);
        for i in 0..10 {
            r.push(format!("line {i}").as_bytes());
        }
        assert_eq!(r.len(), 3, "20 bytes hold three 6-byte lines");
        assert!(r.bytes() <= 20);
        assert_eq!(r.lines().last().unwrap(), b"line 9");
        r.push(&[b'x'; 21]);
        assert_eq!(r.len(), 3, "a line over the byte bound is not kept");
        let mut none = Ring::new(0, 100);
        none.push(b"x");
        assert!(none.is_empty());
    }
}
