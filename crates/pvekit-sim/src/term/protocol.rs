//! The termproxy byte protocol, client to server, after the auth line: `0:<len>:<data>`
//! (input), `1:<cols>:<rows>:` (resize), `2` (keepalive). Parsed like pve-xtermjs'
//! termproxy: messages are processed from a byte queue; anything that is not `0` or `1` where
//! a message type is expected is skipped one byte at a time (a `2` skipped so is reported as
//! a keepalive, for the simulator's count, and otherwise ignored);
//! fewer than two queued bytes wait for more; a header whose terminating colon has not
//! arrived yet waits too.

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
    /// Queues `data` and returns the complete messages it finished.
    pub fn push(&mut self, data: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut pos = 0;
        while self.buf.len() - pos >= 2 {
            let b = &self.buf[pos..];
            match (b[0], b[1]) {
                (b'0', b':') => match field(b, 2) {
                    Field::Value(len, start) => {
                        let Ok(len) = usize::try_from(len) else {
                            pos += 1;
                            continue;
                        };
                        if b.len() - start < len {
                            break;
                        }
                        out.push(Event::Input(b[start..start + len].to_vec()));
                        pos += start + len;
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
        // Split across frames.
        assert!(p.push(b"0:5:he").is_empty());
        assert_eq!(p.push(b"llo"), vec![Event::Input(b"hello".to_vec())]);
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
}
