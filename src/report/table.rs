//! A table as both outputs need it: markdown (numbers rounded, a caption) and CSV (full
//! precision, the same columns).

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    /// A figure; `None` where there is nothing to count ("–" in markdown, empty in CSV).
    Num(Option<f64>),
    Count(usize),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn markdown(&self) -> String {
        match self {
            Cell::Text(s) => s.replace('|', "\\|"),
            Cell::Num(Some(v)) => format!("{v:.2}"),
            Cell::Num(None) => "–".to_string(),
            Cell::Count(n) => n.to_string(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => csv_field(s),
            Cell::Num(Some(v)) => format!("{v}"),
            Cell::Num(None) => String::new(),
            Cell::Count(n) => n.to_string(),
        }
    }
}

/// Quotes a field when it holds a comma, a quote or a line break (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// File stem of the CSV.
    pub id: String,
    pub title: String,
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(id: &str, title: &str, caption: String, columns: Vec<String>) -> Table {
        Table {
            id: id.to_string(),
            title: title.to_string(),
            caption,
            columns,
            rows: Vec::new(),
        }
    }

    /// A heading, the table and its caption.
    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(self.columns.clone()));
        out.push_str(&line(
            self.columns.iter().map(|_| "---".to_string()).collect(),
        ));
        for row in &self.rows {
            out.push_str(&line(row.iter().map(Cell::markdown).collect()));
        }
        if self.rows.is_empty() {
            out.push_str("\n(no units)\n");
        }
        out.push_str(&format!("\n{}\n\n", self.caption));
        out
    }

    pub fn csv(&self) -> String {
        let mut out = self
            .columns
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for row in &self.rows {
            out.push_str(&row.iter().map(Cell::csv).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_csv_show_the_same_cells() {
        let mut t = Table::new(
            "t",
            "T",
            "Caption.".into(),
            vec!["model".into(), "f1".into()],
        );
        t.rows
            .push(vec![Cell::text("a,b|c"), Cell::Num(Some(1.0 / 3.0))]);
        t.rows.push(vec![Cell::text("d"), Cell::Num(None)]);
        let md = t.markdown();
        assert!(md.contains("| a,b\\|c | 0.33 |"), "{md}");
        assert!(md.contains("| d | – |"), "{md}");
        assert_eq!(t.csv(), "model,f1\n\"a,b|c\",0.3333333333333333\nd,\n");
    }
}
