//! Report pages: the HTML page is self-contained XHTML with every figure
//! inline; the Markdown page links the figures by file name.

use plastifit::report::{
    compare_means, heatmap, welch_sample_vs_summary, Align, CategorySeries, Frame, HeatmapOptions, MeanSem, Page, Table,
};

fn page() -> Page {
    let frame = Frame::new("Held-out <protocols>", "protocol", "EPSP ratio");
    let series = vec![
        CategorySeries {
            name: "in silico".into(),
            values: vec![Some(MeanSem { mean: 1.1, sem: 0.02 }), None],
        },
        CategorySeries {
            name: "in vitro".into(),
            values: vec![
                Some(MeanSem { mean: 1.2, sem: 0.05 }),
                Some(MeanSem { mean: 0.9, sem: 0.04 }),
            ],
        },
    ];
    let fig1 = compare_means(&frame, &["a", "b"], &series, Some(1.0)).unwrap();
    let fig2 = heatmap(
        &Frame::new("map", "f (Hz)", "Δt (ms)"),
        &[1.0, 10.0],
        &[-10.0, 10.0],
        &[vec![0.8, f64::NAN], vec![1.1, 1.3]],
        &HeatmapOptions::default(),
    )
    .unwrap();

    let w = welch_sample_vs_summary(&[1.0, 1.1, 1.2, 1.05], 1.3, 0.05, 9).unwrap();
    let mut table = Table::new(["protocol", "t", "df", "p"])
        .with_align(&[Align::Left, Align::Right, Align::Right, Align::Right])
        .unwrap();
    table
        .push_row([
            "L23 & <L5>".to_string(),
            format!("{:.3}", w.t),
            format!("{:.1}", w.df),
            format!("{:.3}", w.p_value),
        ])
        .unwrap();

    let mut p = Page::new("Validation <report> & more");
    p.subtitle = Some("run 2024-01-01, seed 7".into());
    p.section("Training")
        .paragraph("Errors are in units of the in-vitro SEM; 1 < 2 & 3 > 2.")
        .figure("training.svg", &fig1, "Mean ± SEM per protocol.")
        .table(table, Some("Welch tests, two-sided.".into()));
    p.section("Rule map")
        .figure("rule map.svg", &fig2, "EPSP ratio over frequency and timing.")
        .list(["one", "two <b>"])
        .code("{\"tau\": 278.318}");
    p
}

#[test]
fn html_page_is_self_contained_xhtml_with_every_figure_inline() {
    let p = page();
    let html = p.to_html();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("page is not XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");

    // Each figure's SVG appears verbatim and as an element.
    for (_, svg) in p.figures() {
        assert!(html.contains(svg.trim_end()));
    }
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    assert_eq!(svgs, 2);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("figure")).count(), 2);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("table")).count(), 1);

    // Escaped text survives.
    let title = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(title.text(), Some("Validation <report> & more"));
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("td") && n.text() == Some("L23 & <L5>")));
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("li") && n.text() == Some("two <b>")));

    // The heatmap's missing cell is listed under its figure.
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("li") && n.text().is_some_and(|t| t.contains("no value at (x, y) = (10, -10)"))));

    // Nothing external: the only URLs are XML namespace names.
    let stripped = html
        .replace("http://www.w3.org/1999/xhtml", "")
        .replace("http://www.w3.org/2000/svg", "");
    assert!(!stripped.contains("http"), "external reference in page");
    for bad in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(bad), "{bad} in page");
    }
    // Styles are inline.
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("style")).count(), 1);
}

#[test]
fn html_page_is_deterministic() {
    assert_eq!(page().to_html(), page().to_html());
}

#[test]
fn markdown_page_links_figures_and_renders_tables() {
    let p = page();
    let md = p.to_markdown();
    assert!(md.starts_with("# Validation <report> & more\n"));
    assert!(md.contains("## Training\n"));
    assert!(md.contains("![Mean ± SEM per protocol.](training.svg)"));
    assert!(md.contains("(rule%20map.svg)"));
    assert!(md.contains("Figure 2. EPSP ratio over frequency and timing."));
    assert!(md.contains("| protocol   |"));
    assert!(md.contains("Table 1. Welch tests, two-sided."));
    assert!(md.contains("```\n{\"tau\": 278.318}\n```"));
    assert!(!md.contains("<svg"));
    let names: Vec<&str> = p.figures().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["training.svg", "rule map.svg"]);
}
