//! A transform failure a person can act on: which file, where, what, and the lines around it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a file could not be turned into a module: a syntax error in TypeScript, a failing
/// Markdown or Sass compiler... The server shows it in the browser's error overlay and as one
/// terminal line, and keeps serving the last good version.
///
/// ```
/// let err = hotserve::TransformError::new("unexpected token").at(2, 5);
/// assert_eq!(err.line(), Some(2));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformError {
    message: String,
    file: Option<PathBuf>,
    /// 1-based line and column (in characters), when the error has a position.
    position: Option<(u32, u32)>,
    frame: Option<String>,
    plugin: Option<String>,
}

impl TransformError {
    /// An error with this message and no position yet.
    pub fn new(message: impl Into<String>) -> Self {
        TransformError {
            message: message.into(),
            file: None,
            position: None,
            frame: None,
            plugin: None,
        }
    }

    /// Where in the source the error is: 1-based line and column. The server draws the code
    /// frame from the source it gave the transform.
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.position = Some((line.max(1), column.max(1)));
        self
    }

    /// What the error is.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The file that failed; filled in by the server.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// 1-based line of the error, if it has a position.
    pub fn line(&self) -> Option<u32> {
        self.position.map(|(line, _)| line)
    }

    /// 1-based column of the error, if it has a position.
    pub fn column(&self) -> Option<u32> {
        self.position.map(|(_, column)| column)
    }

    /// The source lines around the error with a marker under the column, as Vite's overlay
    /// shows them.
    pub fn frame(&self) -> Option<&str> {
        self.frame.as_deref()
    }

    /// Which transform failed (`oxc`, or the name of an embedder's transform).
    pub fn plugin(&self) -> Option<&str> {
        self.plugin.as_deref()
    }

    /// Fills in what the server knows and the transform may not: the file, the transform's
    /// name, and the code frame drawn from `source`.
    pub(crate) fn located(mut self, file: &Path, plugin: &str, source: &str) -> Self {
        self.file = Some(file.to_owned());
        if self.plugin.is_none() {
            self.plugin = Some(plugin.to_owned());
        }
        if self.frame.is_none()
            && let Some((line, column)) = self.position
        {
            self.frame = Some(code_frame(source, line, column));
        }
        self
    }

    /// The position of byte `offset` in `source`, as 1-based line and character column.
    #[cfg(feature = "transform")]
    pub(crate) fn at_offset(self, source: &str, offset: usize) -> Self {
        let (line, column) = line_column(source, offset);
        self.at(line, column)
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some((line, column)) = self.position {
                write!(f, ":{line}:{column}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for TransformError {}

/// 1-based line and column (counted in characters, as editors and Vite's overlay count) of
/// byte `offset`; an offset past the end or inside a character is clamped back.
#[cfg(any(feature = "transform", test))]
pub(crate) fn line_column(source: &str, offset: usize) -> (u32, u32) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (to_u32(line), to_u32(column))
}

#[cfg(any(feature = "transform", test))]
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Two lines before and after `line`, numbered, with `^` under `column`. Long lines are cut
/// so a minified file does not flood the overlay.
pub(crate) fn code_frame(source: &str, line: u32, column: u32) -> String {
    const CONTEXT: usize = 2;
    const MAX_WIDTH: usize = 200;
    let lines: Vec<&str> = source.lines().collect();
    let target = (line as usize)
        .saturating_sub(1)
        .min(lines.len().saturating_sub(1));
    let first = target.saturating_sub(CONTEXT);
    let last = (target + CONTEXT).min(lines.len().saturating_sub(1));
    let width = (last + 1).to_string().len();
    let mut out = String::new();
    for (i, text) in lines.iter().enumerate().take(last + 1).skip(first) {
        let text: String = text
            .trim_end_matches('\r')
            .chars()
            .take(MAX_WIDTH)
            .collect();
        out.push_str(&format!("{:>width$} | {text}\n", i + 1));
        if i == target {
            let pad: String = text
                .chars()
                .take((column as usize).saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{:>width$} | {pad}^\n", ""));
        }
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        let cases = [
            ("abc", 0, (1, 1)),
            ("abc", 2, (1, 3)),
            ("a\nbc", 2, (2, 1)),
            ("a\nbc", 3, (2, 2)),
            ("é\nx", 1, (1, 1)),
            ("éx", 2, (1, 2)),
            ("ab", 99, (1, 3)),
        ];
        for (source, offset, expected) in cases {
            assert_eq!(
                line_column(source, offset),
                expected,
                "{source:?} @ {offset}"
            );
        }
    }

    #[test]
    fn a_code_frame_shows_neighbour_lines_and_marks_the_column() {
        let source = "one\ntwo\nthree\nfour\nfive\nsix";
        let frame = code_frame(source, 3, 2);
        assert_eq!(
            frame,
            "1 | one\n2 | two\n3 | three\n  |  ^\n4 | four\n5 | five"
        );
    }

    #[test]
    fn a_code_frame_for_a_position_past_the_end_marks_the_last_line() {
        let frame = code_frame("a\nb", 9, 1);
        assert_eq!(frame, "1 | a\n2 | b\n  | ^");
        assert_eq!(code_frame("", 1, 1), "");
    }

    #[test]
    fn located_errors_name_file_position_and_plugin() {
        let err =
            TransformError::new("boom")
                .at(2, 3)
                .located(Path::new("/p/a.ts"), "oxc", "x\nyyyy\n");
        assert_eq!(err.to_string(), "/p/a.ts:2:3: boom");
        assert_eq!(err.plugin(), Some("oxc"));
        assert_eq!(err.frame(), Some("1 | x\n2 | yyyy\n  |   ^"));
    }
}
