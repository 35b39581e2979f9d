//! The node journal over REST (`GET /nodes/{node}/journal`), for configs without a terminal
//! login: API tokens can read it with `Sys.Syslog`, no shell needed.
//!
//! The server answers lines as `mini-journalreader` prints them, the first and last line being
//! the cursors of the first and last entry; following polls with the last cursor as
//! `startcursor`, as the web UI's journal view does.

use std::time::Duration;

use futures_util::Stream;

use crate::error::Result;
use crate::node::Node;

/// One page of journal lines and where it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalPage {
    /// The entries, oldest first.
    pub lines: Vec<String>,
    /// The cursor of the last entry, to continue from.
    pub last_cursor: Option<String>,
}

impl JournalPage {
    fn from_raw(mut raw: Vec<String>) -> JournalPage {
        // Cursors frame the entries; an empty answer has none.
        if raw.len() < 2 {
            return JournalPage::default();
        }
        let last_cursor = raw.pop();
        raw.remove(0);
        JournalPage {
            lines: raw,
            last_cursor,
        }
    }
}

impl Node {
    /// The last `lastentries` journal entries, or those after `after_cursor`.
    ///
    /// # Errors
    /// As [`Node::get`](crate::Node::get).
    pub async fn journal_page(
        &self,
        lastentries: usize,
        after_cursor: Option<&str>,
    ) -> Result<JournalPage> {
        let mut params = vec![("lastentries", lastentries.to_string())];
        if let Some(c) = after_cursor {
            params.push(("startcursor", c.to_string()));
        }
        let path = pvekit_core::path::api_path(["nodes", self.name(), "journal"]);
        let raw: Vec<String> = self.client().get_with(&path, &params).await?;
        Ok(JournalPage::from_raw(raw))
    }

    /// Journal lines over REST: the last `lastentries`, then new ones every `interval`, until
    /// the stream is dropped.
    pub fn journal_follow_rest(
        &self,
        lastentries: usize,
        interval: Duration,
    ) -> impl Stream<Item = Result<String>> + use<> {
        let interval = interval.max(crate::MIN_INTERVAL);
        let node = self.clone();
        let state = (
            node,
            None::<String>,
            std::collections::VecDeque::<String>::new(),
            true,
        );
        futures_util::stream::unfold(
            state,
            move |(node, mut cursor, mut queue, mut first)| async move {
                loop {
                    if let Some(line) = queue.pop_front() {
                        return Some((Ok(line), (node, cursor, queue, first)));
                    }
                    if !first {
                        tokio::time::sleep(interval).await;
                    }
                    let page = if first {
                        node.journal_page(lastentries, None).await
                    } else {
                        node.journal_page(5000, cursor.as_deref()).await
                    };
                    first = false;
                    match page {
                        Ok(p) => {
                            if p.last_cursor.is_some() {
                                cursor = p.last_cursor;
                            }
                            queue.extend(p.lines);
                        }
                        Err(e) => return Some((Err(e), (node, cursor, queue, first))),
                    }
                }
            },
        )
    }

    /// The node's journal, read the way this login can: through the node's terminal
    /// (`journalctl`) for the `root@pam` password login, or when units are asked for (only
    /// `journalctl` filters by unit); else over REST (`GET /nodes/{node}/journal`, which API
    /// tokens and other users may read with `Sys.Syslog`; new entries are polled every
    /// `JOURNAL_POLL_INTERVAL` while following). Either way a `Stream` of lines.
    ///
    /// # Errors
    /// As [`Node::journal`] for the terminal; the REST errors come as stream items.
    pub async fn journal_lines(
        &self,
        options: &crate::JournalOptions,
    ) -> Result<std::pin::Pin<Box<dyn Stream<Item = Result<String>> + Send>>> {
        use futures_util::StreamExt;
        let root = self
            .client()
            .login_user()
            .is_some_and(|u| u.to_string() == "root@pam");
        if root || !options.units.is_empty() {
            let stream = self.journal(options).await?;
            return Ok(Box::pin(lines_of(stream)));
        }
        if options.follow {
            return Ok(Box::pin(
                self.journal_follow_rest(options.lines, JOURNAL_POLL_INTERVAL),
            ));
        }
        let page = self.journal_page(options.lines, None).await?;
        Ok(Box::pin(futures_util::stream::iter(page.lines.into_iter().map(Ok))).boxed())
    }
}

/// How often the REST journal is polled for new entries while following (the web UI's
/// journal view polls every second).
pub const JOURNAL_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Splits a command's output into lines (without their `\n`; a last line without one is
/// kept), and ends with an error item when the command exited with a status other than 0.
/// A line is capped at 1 MiB: longer ones are cut there.
fn lines_of(chunks: crate::CommandStream) -> impl Stream<Item = Result<String>> + Send {
    use futures_util::StreamExt;
    use std::collections::VecDeque;
    const MAX_LINE: usize = 1 << 20;
    struct State {
        chunks: crate::CommandStream,
        partial: Vec<u8>,
        ready: VecDeque<Result<String>>,
        done: bool,
    }
    let state = State {
        chunks,
        partial: Vec::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.ready.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            match st.chunks.next().await {
                Some(Ok(chunk)) => {
                    for b in chunk.iter().copied() {
                        if b == b'\n' || st.partial.len() >= MAX_LINE {
                            let line = String::from_utf8_lossy(&st.partial).into_owned();
                            st.ready.push_back(Ok(line));
                            st.partial.clear();
                            if b == b'\n' {
                                continue;
                            }
                        }
                        st.partial.push(b);
                    }
                }
                Some(Err(e)) => {
                    st.ready.push_back(Err(e));
                    st.done = true;
                }
                None => {
                    st.done = true;
                    if !st.partial.is_empty() {
                        let line = String::from_utf8_lossy(&st.partial).into_owned();
                        st.ready.push_back(Ok(line));
                        st.partial.clear();
                    }
                    if let Some(status) = st.chunks.exit_status().filter(|s| *s != 0) {
                        st.ready.push_back(Err(crate::Error::Terminal {
                            message: format!("journalctl exited with status {status}"),
                        }));
                    }
                }
            }
        }
    })
}
