//! Server-sent events (the `text/event-stream` format): a synchronous decoder fed chunk by
//! chunk, so events split anywhere — mid-line, mid-`\r\n`, mid-UTF-8 character — come out
//! whole. Follows the WHATWG parsing rules for `event`, `data` and comments.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type (`message`).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental decoder. Memory is bounded by the longest line plus one event's data; a line
/// longer than `max_line` is an error, so a peer cannot grow the buffer without bound.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    max_line: usize,
}

/// A line exceeded the decoder's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event-stream line longer than {0} bytes")]
pub struct LineTooLong(pub usize);

impl SseDecoder {
    pub fn new(max_line: usize) -> Self {
        SseDecoder {
            line: Vec::new(),
            event: None,
            data: String::new(),
            has_data: false,
            after_cr: false,
            max_line,
        }
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut events = Vec::new();
        for &b in bytes {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    if self.line.len() >= self.max_line {
                        return Err(LineTooLong(self.max_line));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let event = SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
            };
            return std::mem::take(&mut self.has_data).then_some(event);
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut d = SseDecoder::new(1 << 16);
        input
            .chunks(piece)
            .flat_map(|c| d.push(c).unwrap())
            .collect()
    }

    #[test]
    fn events_come_out_whole_however_the_bytes_are_split() {
        let input = "event: change\ndata: {\"revision\":1}\n\n: comment\r\n\r\nevent: reset\r\ndata: a\r\ndata: ☃b\r\n\r\ndata:x\n\n"
            .as_bytes();
        let want = vec![
            SseEvent {
                event: Some("change".into()),
                data: "{\"revision\":1}".into(),
            },
            SseEvent {
                event: Some("reset".into()),
                data: "a\n☃b".into(),
            },
            SseEvent {
                event: None,
                data: "x".into(),
            },
        ];
        for piece in 1..input.len() {
            assert_eq!(
                decode_in_pieces(input, piece),
                want,
                "split every {piece} bytes"
            );
        }
    }

    #[test]
    fn an_endless_line_is_an_error_not_a_growing_buffer() {
        let mut d = SseDecoder::new(8);
        assert_eq!(d.push(b"data: 0123456789"), Err(LineTooLong(8)));
    }
}
