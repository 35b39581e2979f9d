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
}
