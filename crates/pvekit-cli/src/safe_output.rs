/*!
Remote bytes made safe for the local terminal.

A log line can carry escape sequences that a terminal obeys: set the window title, write the
clipboard (OSC 52), move the cursor to overwrite earlier lines, or rewrite a line with `\r`.
`journal` and `tail` therefore pass remote output through [`ControlFilter`] when stdout is a
terminal (unless `--raw`): every control character but newline and tab is shown in caret
notation (`ESC` as `^[`, as `cat -v` does), and the C1 controls U+0080 to U+009F as `<U+009B>`.
Once the escape character is shown instead of sent, the rest of the sequence is plain text.
`exec` stays raw, like `docker exec`: its output may be meant for the terminal.
*/

/// Neutralises control characters in a byte stream, across chunk boundaries.
#[derive(Debug, Default)]
pub struct ControlFilter {
    /// A `0xC2` lead byte held back from the last chunk (it may start a C1 control).
    held: bool,
}

impl ControlFilter {
    /// A filter with nothing held.
    pub fn new() -> Self {
        Self::default()
    }

    /// The safe form of `chunk`. A trailing `0xC2` is held until the next chunk.
    pub fn filter(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 8);
        let mut bytes = chunk.iter().copied().peekable();
        if std::mem::take(&mut self.held) {
            match bytes.peek() {
                Some(&b) => Self::push_c2(&mut out, b, &mut bytes),
                None => {
                    self.held = true;
                    return out;
                }
            }
        }
        while let Some(b) = bytes.next() {
            match b {
                b'\n' | b'\t' => out.push(b),
                0x00..=0x1f => {
                    out.push(b'^');
                    out.push(b + 0x40);
                }
                0x7f => out.extend_from_slice(b"^?"),
                0xc2 => match bytes.peek() {
                    Some(&next) => Self::push_c2(&mut out, next, &mut bytes),
                    None => self.held = true,
                },
                _ => out.push(b),
            }
        }
        out
    }

    /// Emits a `0xC2` lead byte followed by `next` (not yet consumed from `bytes`).
    fn push_c2(
        out: &mut Vec<u8>,
        next: u8,
        bytes: &mut std::iter::Peekable<impl Iterator<Item = u8>>,
    ) {
        if (0x80..=0x9f).contains(&next) {
            bytes.next();
            out.extend_from_slice(format!("<U+{:04X}>", next).as_bytes());
        } else {
            out.push(0xc2);
        }
    }

    /// What is still held at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        if std::mem::take(&mut self.held) {
            vec![0xc2]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut f = ControlFilter::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(f.filter(c));
        }
        out.extend(f.finish());
        out
    }

    #[test]
    fn escapes_are_shown_not_sent() {
        // OSC 52 (clipboard), a window title, a cursor move and a carriage return.
        let line = b"ok \x1b]52;c;aGVsbG8=\x07 \x1b]0;pwned\x07 \x1b[2J\rX\tY\n";
        assert_eq!(
            all(&[line]),
            b"ok ^[]52;c;aGVsbG8=^G ^[]0;pwned^G ^[[2J^MX\tY\n".to_vec()
        );
        // UTF-8 text passes; the C1 CSI (U+009B) does not, even split across chunks.
        assert_eq!(all(&["é ü".as_bytes()]), "é ü".as_bytes());
        assert_eq!(all(&[b"a\xc2", b"\x9b2J"]), b"a<U+009B>2J".to_vec());
        assert_eq!(all(&[b"a\xc2", b"", b"\xa0"]), "a\u{a0}".as_bytes());
        assert_eq!(all(&[b"\x7f"]), b"^?".to_vec());
    }

    proptest! {
        /// Whatever the bytes and however they are cut, no control character but newline and
        /// tab comes out, and nothing else is lost.
        #[test]
        fn no_control_survives(data in proptest::collection::vec(any::<u8>(), 0..200), cut in 0usize..200) {
            let cut = cut.min(data.len());
            let out = all(&[&data[..cut], &data[cut..]]);
            prop_assert!(!out.iter().any(|b| b.is_ascii_control() && *b != b'\n' && *b != b'\t'));
            let text = String::from_utf8_lossy(&out);
            let c1 = text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
            prop_assert!(!c1, "a C1 control survived");
            prop_assert_eq!(out, all(&[&data]));
        }
    }
}
