//! The termproxy byte protocol, client to server, after the auth line: `0:<len>:<data>`
//! (input), `1:<cols>:<rows>:` (resize), `2` (keepalive). Parsed like pve-xtermjs'
//! termproxy: messages are processed from a byte queue; anything that is not `0` or `1` where
//! a message type is expected is skipped one byte at a time (a `2` skipped so is reported as
//! a keepalive, for the simulator's count, and otherwise ignored);
//! fewer than two queued bytes wait for more; a header whose terminating colon has not
//! arrived yet waits too.
//!
//! Memory stays bounded whatever a client sends: the data of an input message is passed on
//! as it arrives (termproxy collects a whole message first; the bytes reach the PTY in the
//! same order either way), so the queue holds at most one unfinished header (a header longer
//! than [`MAX_DIGITS`] digits per field is invalid and skipped).

/// A decoded client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Bytes for the PTY.
    Input(Vec<u8>),
    /// New terminal size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// A keepalive `2`, consumed without effect.
    Keepalive,
}

/// The longest decimal field termproxy accepts before giving up on a header.
const MAX_DIGITS: usize = 20;

/// The byte queue between websocket frames and the PTY.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    buf: Vec<u8>,
    /// Bytes still due to the input message being received.
    remaining: u64,
}

/// Result of reading one decimal field terminated by `:`.
enum Field {
    Value(u64, usize),
    Incomplete,
    Invalid,
}

fn field(buf: &[u8], start: usize) -> Field {
    let mut v: u64 = 0;
    for (n, &c) in buf.iter().enumerate().skip(start) {
        match c {
            b':' if n > start => return Field::Value(v, n + 1),
            b'0'..=b'9' if n - start < MAX_DIGITS => {
                v = v.saturating_mul(10).saturating_add(u64::from(c - b'0'));
            }
            _ => return Field::Invalid,
        }
    }
    Field::Incomplete
}

impl Parser {
    /// Queues `data` and returns the messages (and parts of input messages) it completed.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        if self.remaining > 0 {
            let n = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(data.len());
            out.push(Event::Input(data[..n].to_vec()));
            self.remaining -= n as u64;
            data = &data[n..];
            if self.remaining > 0 {
                return out;
            }
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while self.buf.len() - pos >= 2 {
            let b = &self.buf[pos..];
            match (b[0], b[1]) {
                (b'0', b':') => match field(b, 2) {
                    Field::Value(len, start) => {
                        let have = (b.len() - start) as u64;
                        let take = have.min(len) as usize;
                        if take > 0 || len == 0 {
                            out.push(Event::Input(b[start..start + take].to_vec()));
                        }
                        pos += start + take;
                        if take as u64 != len {
                            self.remaining = len - take as u64;
                            break;
                        }
                    }
                    Field::Incomplete => break,
                    Field::Invalid => pos += 1,
                },
                (b'1', b':') => match field(b, 2) {
                    Field::Value(cols, next) => match field(b, next) {
                        Field::Value(rows, end) => {
                            if let (Ok(cols), Ok(rows)) = (u16::try_from(cols), u16::try_from(rows))
                                && cols > 0
                                && rows > 0
                            {
                                out.push(Event::Resize { cols, rows });
                            }
                            pos += end;
                        }
                        Field::Incomplete => break,
                        Field::Invalid => pos += 1,
                    },
                    Field::Incomplete => break,
                    Field::Invalid => pos += 1,
                },
                (b'2', _) => {
                    out.push(Event::Keepalive);
                    pos += 1;
                }
                _ => pos += 1,
            }
        }
        self.buf.drain(..pos);
        out
    }

    /// Bytes queued (an unfinished header at most).
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut p = Parser::default();
        assert_eq!(p.push(b"0:3:abc"), vec![Event::Input(b"abc".to_vec())]);
        assert_eq!(
            p.push(b"1:120:40:0:2:\r\n"),
            vec![
                Event::Resize {
                    cols: 120,
                    rows: 40
                },
                Event::Input(b"\r\n".to_vec())
            ]
        );
        // A keepalive alone waits, then is skipped.
        assert!(p.push(b"2").is_empty());
        assert_eq!(
            p.push(b"0:1:x"),
            vec![Event::Keepalive, Event::Input(b"x".to_vec())]
        );
        // Split across frames: the data goes on as it comes.
        assert_eq!(p.push(b"0:5:he"), vec![Event::Input(b"he".to_vec())]);
        assert_eq!(
            p.push(b"llo0:1:x"),
            vec![Event::Input(b"llo".to_vec()), Event::Input(b"x".to_vec())]
        );
        // Data length is in bytes; the data may hold colons and digits.
        assert_eq!(
            p.push("0:4:ä:1".as_bytes()),
            vec![Event::Input("ä:1".as_bytes().to_vec())]
        );
        // Resize without the trailing colon waits (and is never applied alone).
        assert!(p.push(b"1:80:24").is_empty());
        assert_eq!(p.push(b":"), vec![Event::Resize { cols: 80, rows: 24 }]);
        // Garbage bytes are skipped one at a time.
        let mut events = p.push(b"xyz22220:1:q");
        assert_eq!(events.pop(), Some(Event::Input(b"q".to_vec())));
        assert_eq!(events, vec![Event::Keepalive; 4]);
        // A malformed header is skipped.
        assert_eq!(p.push(b"0:a:0:1:z"), vec![Event::Input(b"z".to_vec())]);
        assert_eq!(p.push(b"0:0:"), vec![Event::Input(Vec::new())]);
    }

    #[test]
    fn memory_stays_bounded() {
        let mut p = Parser::default();
        // A huge declared length: the data is passed on, never queued.
        let mut total = 0;
        assert!(p.push(b"0:18446744073709551615:").is_empty());
        let chunk = vec![b'a'; 128 * 1024];
        for _ in 0..64 {
            for ev in p.push(&chunk) {
                let Event::Input(d) = ev else { panic!() };
                total += d.len();
            }
            assert_eq!(p.queued(), 0);
        }
        assert_eq!(total, 64 * chunk.len());
        // Endless header digits are invalid, not queued.
        let mut p = Parser::default();
        let mut digits = b"0:".to_vec();
        digits.extend(std::iter::repeat_n(b'9', 100_000));
        p.push(&digits);
        assert!(p.queued() < 64, "{}", p.queued());
        // Endless garbage is skipped.
        p.push(&vec![b'x'; 100_000]);
        assert!(p.queued() < 2);
    }
}
