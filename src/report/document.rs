//! Tables and report pages, as Markdown and as self-contained HTML.
//!
//! The HTML page is XHTML-compatible (every element closed, text escaped), so
//! it parses as XML; it carries its CSS inline, embeds figures as inline SVG,
//! has no scripts and references no external resource, so it renders
//! offline. The Markdown page refers to each figure by its file name; the
//! caller writes the files listed by [`Page::figures`] next to it.

use super::svg::{escape, Plot};
use super::ReportError;
use std::fmt::Write;

/// Horizontal alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// A table of strings: one header row and body rows of the same width.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers, every column left-aligned.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let align = vec![Align::Left; headers.len()];
        Table {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Sets the alignment of every column (one entry per column).
    pub fn with_align(mut self, align: &[Align]) -> Result<Table, ReportError> {
        if align.len() != self.headers.len() {
            return Err(ReportError::Shape {
                what: "column alignments".into(),
                expected: self.headers.len(),
                got: align.len(),
            });
        }
        self.align = align.to_vec();
        Ok(self)
    }

    /// Appends a row; it must have one cell per column.
    pub fn push_row<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) -> Result<(), ReportError> {
        let row: Vec<String> = row.into_iter().map(Into::into).collect();
        if row.len() != self.headers.len() {
            return Err(ReportError::Shape {
                what: format!("cells in row {}", self.rows.len() + 1),
                expected: self.headers.len(),
                got: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// A GitHub-flavoured Markdown table. `|` in cells is escaped and line
    /// breaks become spaces; columns are padded so the source is readable.
    pub fn to_markdown(&self) -> String {
        let cell = |s: &str| s.replace('\\', "\\\\").replace('|', "\\|").replace(['\r', '\n'], " ");
        let header: Vec<String> = self.headers.iter().map(|h| cell(h)).collect();
        let body: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()).collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                body.iter()
                    .map(|r| r[i].chars().count())
                    .chain([header[i].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let pad = |s: &str, w: usize, a: Align| {
            let n = w.saturating_sub(s.chars().count());
            match a {
                Align::Right => format!("{}{s}", " ".repeat(n)),
                Align::Center => format!("{}{s}{}", " ".repeat(n / 2), " ".repeat(n - n / 2)),
                Align::Left => format!("{s}{}", " ".repeat(n)),
            }
        };
        let mut out = String::new();
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(
            header
                .iter()
                .zip(&widths)
                .zip(&self.align)
                .map(|((h, w), a)| pad(h, *w, *a))
                .collect(),
        ));
        out.push_str(&line(
            widths
                .iter()
                .zip(&self.align)
                .map(|(w, a)| match a {
                    Align::Left => format!(":{}", "-".repeat(w - 1)),
                    Align::Center => format!(":{}:", "-".repeat(w - 2)),
                    Align::Right => format!("{}:", "-".repeat(w - 1)),
                })
                .collect(),
        ));
        for r in &body {
            out.push_str(&line(
                r.iter()
                    .zip(&widths)
                    .zip(&self.align)
                    .map(|((c, w), a)| pad(c, *w, *a))
                    .collect(),
            ));
        }
        out
    }

    /// An HTML `<table>` (escaped text, alignment as a `class` on each cell).
    pub fn to_html(&self) -> String {
        let class = |a: Align| match a {
            Align::Left => "",
            Align::Center => r#" class="center""#,
            Align::Right => r#" class="right""#,
        };
        let mut out = String::from("<table>\n<thead>\n<tr>");
        for (h, a) in self.headers.iter().zip(&self.align) {
            let _ = write!(out, "<th{}>{}</th>", class(*a), escape(h));
        }
        out.push_str("</tr>\n</thead>\n<tbody>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for (c, a) in r.iter().zip(&self.align) {
                let _ = write!(out, "<td{}>{}</td>", class(*a), escape(c));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Plain text (escaped in HTML, written as is in Markdown).
    Paragraph(String),
    /// A bulleted list of plain-text items.
    List(Vec<String>),
    /// Preformatted text (configurations, parameter sets).
    Code(String),
    Table {
        table: Table,
        caption: Option<String>,
    },
    /// An SVG figure: inlined in HTML, referred to by `file_name` in Markdown.
    Figure {
        file_name: String,
        svg: String,
        caption: String,
        notes: Vec<String>,
    },
}

/// A titled section of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn list<S: Into<String>>(&mut self, items: impl IntoIterator<Item = S>) -> &mut Section {
        self.blocks
            .push(Block::List(items.into_iter().map(Into::into).collect()));
        self
    }

    pub fn code(&mut self, text: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Code(text.into()));
        self
    }

    pub fn table(&mut self, table: Table, caption: Option<String>) -> &mut Section {
        self.blocks.push(Block::Table { table, caption });
        self
    }

    /// Adds a figure; its notes (values that could not be drawn) are shown
    /// under the caption.
    pub fn figure(&mut self, file_name: impl Into<String>, plot: &Plot, caption: impl Into<String>) -> &mut Section {
        self.blocks.push(Block::Figure {
            file_name: file_name.into(),
            svg: plot.svg.clone(),
            caption: caption.into(),
            notes: plot.notes.clone(),
        });
        self
    }
}

/// A report page: a title, an optional subtitle line and sections.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub title: String,
    pub subtitle: Option<String>,
    pub sections: Vec<Section>,
}

/// The page's style sheet: readable on screen and in print, figures scaled
/// to the column.
const CSS: &str = "\
body{font-family:Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:0.2rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
p.subtitle{color:#555;margin-top:0}
table{border-collapse:collapse;margin:1rem 0;font-size:0.9rem}
th,td{border:1px solid #ccc;padding:0.25rem 0.6rem;text-align:left}
th{background:#f2f2f2}
.right{text-align:right;font-variant-numeric:tabular-nums}
.center{text-align:center}
caption{caption-side:bottom;font-size:0.85rem;color:#555;padding-top:0.3rem;text-align:left}
figure{margin:1.5rem 0}
figure svg{max-width:100%;height:auto}
figcaption{font-size:0.9rem;color:#333}
ul.notes{font-size:0.8rem;color:#666;margin:0.2rem 0}
pre{background:#f6f6f6;padding:0.6rem;overflow-x:auto;font-size:0.85rem}
@media print{body{max-width:none}figure{break-inside:avoid}}
";

/// An SVG element as it sits inside the page: any XML declaration or
/// DOCTYPE before the `<svg` tag is dropped.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => svg[i..].trim_end(),
        None => svg.trim(),
    }
}

impl Page {
    pub fn new(title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            subtitle: None,
            sections: Vec::new(),
        }
    }

    /// Appends a section and returns it for filling.
    pub fn section(&mut self, heading: impl Into<String>) -> &mut Section {
        self.sections.push(Section {
            heading: heading.into(),
            blocks: Vec::new(),
        });
        self.sections.last_mut().expect("just pushed")
    }

    /// Every figure as (file name, SVG), in page order, for writing next to
    /// the Markdown page.
    pub fn figures(&self) -> Vec<(&str, &str)> {
        self.sections
            .iter()
            .flat_map(|s| &s.blocks)
            .filter_map(|b| match b {
                Block::Figure { file_name, svg, .. } => Some((file_name.as_str(), svg.as_str())),
                _ => None,
            })
            .collect()
    }

    /// A self-contained XHTML-compatible HTML page: inline CSS, figures as
    /// inline SVG, no scripts, no external resources.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n");
        out.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n");
        out.push_str("<meta charset=\"utf-8\"/>\n");
        let _ = writeln!(out, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>");
        let _ = writeln!(out, "<h1>{}</h1>", escape(&self.title));
        if let Some(s) = &self.subtitle {
            let _ = writeln!(out, "<p class=\"subtitle\">{}</p>", escape(s));
        }
        let mut figure_no = 0;
        let mut table_no = 0;
        for section in &self.sections {
            let _ = writeln!(out, "<section>\n<h2>{}</h2>", escape(&section.heading));
            for block in &section.blocks {
                match block {
                    Block::Paragraph(t) => {
                        let _ = writeln!(out, "<p>{}</p>", escape(t));
                    }
                    Block::List(items) => {
                        out.push_str("<ul>\n");
                        for i in items {
                            let _ = writeln!(out, "<li>{}</li>", escape(i));
                        }
                        out.push_str("</ul>\n");
                    }
                    Block::Code(t) => {
                        let _ = writeln!(out, "<pre>{}</pre>", escape(t));
                    }
                    Block::Table { table, caption } => {
                        table_no += 1;
                        let mut html = table.to_html();
                        if let Some(c) = caption {
                            html = html.replacen(
                                "<table>\n",
                                &format!("<table>\n<caption>Table {table_no}. {}</caption>\n", escape(c)),
                                1,
                            );
                        }
                        out.push_str(&html);
                    }
                    Block::Figure {
                        svg, caption, notes, ..
                    } => {
                        figure_no += 1;
                        out.push_str("<figure>\n");
                        out.push_str(inline_svg(svg));
                        out.push('\n');
                        let _ = writeln!(out, "<figcaption>Figure {figure_no}. {}</figcaption>", escape(caption));
                        if !notes.is_empty() {
                            out.push_str("<ul class=\"notes\">\n");
                            for n in notes {
                                let _ = writeln!(out, "<li>{}</li>", escape(n));
                            }
                            out.push_str("</ul>\n");
                        }
                        out.push_str("</figure>\n");
                    }
                }
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    /// The page as Markdown; figures are image links to their file names.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        if let Some(s) = &self.subtitle {
            let _ = write!(out, "{s}\n\n");
        }
        let mut figure_no = 0;
        let mut table_no = 0;
        for section in &self.sections {
            let _ = write!(out, "## {}\n\n", section.heading);
            for block in &section.blocks {
                match block {
                    Block::Paragraph(t) => {
                        let _ = write!(out, "{t}\n\n");
                    }
                    Block::List(items) => {
                        for i in items {
                            let _ = writeln!(out, "- {}", i.replace('\n', " "));
                        }
                        out.push('\n');
                    }
                    Block::Code(t) => {
                        // A fence longer than any backtick run inside.
                        let longest = t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                        let fence = "`".repeat(longest.max(2) + 1);
                        let _ = write!(out, "{fence}\n{}\n{fence}\n\n", t.trim_end_matches('\n'));
                    }
                    Block::Table { table, caption } => {
                        table_no += 1;
                        out.push_str(&table.to_markdown());
                        if let Some(c) = caption {
                            let _ = write!(out, "\nTable {table_no}. {c}\n");
                        }
                        out.push('\n');
                    }
                    Block::Figure {
                        file_name,
                        caption,
                        notes,
                        ..
                    } => {
                        figure_no += 1;
                        let alt = caption.replace(['[', ']'], "").replace('\n', " ");
                        let _ = write!(
                            out,
                            "![{alt}]({})\n\nFigure {figure_no}. {caption}\n\n",
                            file_name.replace(' ', "%20")
                        );
                        for n in notes {
                            let _ = writeln!(out, "- {n}");
                        }
                        if !notes.is_empty() {
                            out.push('\n');
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table_escapes_and_aligns() {
        let mut t = Table::new(["protocol", "p"])
            .with_align(&[Align::Left, Align::Right])
            .unwrap();
        t.push_row(["a|b", "0.002"]).unwrap();
        t.push_row(["line\nbreak", "1"]).unwrap();
        let md = t.to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines[0], "| protocol   |     p |");
        assert_eq!(lines[1], "| :--------- | ----: |");
        assert_eq!(lines[2], r"| a\|b       | 0.002 |");
        assert_eq!(lines[3], "| line break |     1 |");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn table_rows_must_match_headers() {
        let mut t = Table::new(["a", "b"]);
        assert!(matches!(
            t.push_row(["1"]),
            Err(ReportError::Shape {
                expected: 2,
                got: 1,
                ..
            })
        ));
        assert!(Table::new(["a"]).with_align(&[]).is_err());
        assert!(t.rows().is_empty());
    }

    #[test]
    fn html_table_escapes_cells() {
        let mut t = Table::new(["x<y"]).with_align(&[Align::Right]).unwrap();
        t.push_row(["a & b"]).unwrap();
        let html = t.to_html();
        assert!(html.contains(r#"<th class="right">x&lt;y</th>"#));
        assert!(html.contains(r#"<td class="right">a &amp; b</td>"#));
    }

    #[test]
    fn code_fence_outgrows_backticks_inside() {
        let mut p = Page::new("t");
        p.section("s").code("a ``` b");
        let md = p.to_markdown();
        assert!(md.contains("````\na ``` b\n````"), "{md}");
    }
}
