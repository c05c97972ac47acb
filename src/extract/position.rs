//! Byte offsets to line and column, the way editors count them: lines from
//! 1, columns from 1 in characters (not bytes), so a column in a Chinese
//! line points at the right character.

/// Start offsets of every line of a text.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// Line number of the text's first line in the original file.
    first_line: usize,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str, first_line: usize) -> LineIndex<'a> {
        let mut starts = vec![0];
        // `match_indices` on a char searches with memchr.
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text,
            starts,
            first_line,
        }
    }

    /// (line, column) of byte `offset`, both 1-based. Offsets past the end
    /// or inside a character are clamped.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let idx = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[idx]..offset].chars().count() + 1;
        (self.first_line + idx, column)
    }

    /// Byte offset where 1-based file line `line` starts (clamped).
    pub fn line_start(&self, line: usize) -> usize {
        let idx = line.saturating_sub(self.first_line);
        self.starts.get(idx).copied().unwrap_or(self.text.len())
    }
}

/// The largest char boundary at or below `i`.
pub fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_char_columns() {
        let t = "ab\n中文x\n";
        let ix = LineIndex::new(t, 10);
        assert_eq!(ix.locate(0), (10, 1));
        assert_eq!(ix.locate(3), (11, 1));
        assert_eq!(ix.locate(9), (11, 3));
        assert_eq!(ix.locate(4), (11, 1)); // inside a char: clamped
        assert_eq!(ix.line_start(11), 3);
    }
}
