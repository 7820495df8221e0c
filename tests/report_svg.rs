//! The SVG figures: well-formed XML, the right number of data marks, escaped
//! text, byte-identical output, and NaN or empty input handled.

use plastifit::report::{
    compare_means, distributions, heatmap, lines, CategorySeries, DistributionOptions, DistributionStyle, Frame,
    HeatmapOptions, LinesOptions, MeanSem, Plot, ReportError, XyPoint, XySeries,
};

/// Parses the SVG, checks the root and that no attribute or text holds a
/// non-number spelling; returns the document for counting.
fn parse(svg: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    for node in doc.descendants() {
        for a in node.attributes() {
            for bad in ["NaN", "nan", "inf"] {
                assert!(
                    !a.value().contains(bad),
                    "attribute {}=\"{}\" contains {bad}",
                    a.name(),
                    a.value()
                );
            }
        }
    }
    doc
}

fn count(doc: &roxmltree::Document, class: &str) -> usize {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .count()
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

fn ms(mean: f64, sem: f64) -> Option<MeanSem> {
    Some(MeanSem { mean, sem })
}

fn protocols() -> Vec<&'static str> {
    vec!["mrk97_01", "mrk97_02", "mrk97_07", "mrk97_08", "sjh06_02"]
}

fn epsp_frame() -> Frame {
    Frame::new("Training protocols", "protocol", "EPSP ratio (after/before)")
}

fn two_series() -> Vec<CategorySeries> {
    vec![
        CategorySeries {
            name: "in silico".into(),
            values: vec![ms(1.21, 0.03), ms(0.78, 0.02), ms(1.02, 0.01), ms(0.99, 0.02), None],
        },
        CategorySeries {
            name: "in vitro".into(),
            values: vec![
                ms(1.23, 0.05),
                ms(0.79, 0.04),
                ms(1.01, 0.03),
                ms(0.97, 0.05),
                ms(0.92, 0.06),
            ],
        },
    ]
}

#[test]
fn compare_means_marks_error_bars_and_reference() {
    let plot = compare_means(&epsp_frame(), &protocols(), &two_series(), Some(1.0)).unwrap();
    let doc = parse(&plot.svg);
    assert_eq!(count(&doc, "mark"), 9, "4 + 5 means");
    assert_eq!(count(&doc, "errorbar"), 9);
    assert_eq!(count(&doc, "reference"), 1);
    // Default paper size.
    assert_eq!(doc.root_element().attribute("width"), Some("640.00"));
    assert_eq!(doc.root_element().attribute("height"), Some("420.00"));
    let t = texts(&doc);
    for p in protocols() {
        assert!(t.iter().any(|s| s == p), "label {p} missing");
    }
    assert!(t.iter().any(|s| s == "EPSP ratio (after/before)"));
    assert!(t.iter().any(|s| s == "in silico") && t.iter().any(|s| s == "in vitro"));
    // The missing in-silico value is reported, not drawn.
    assert_eq!(plot.notes, ["in silico, sjh06_02: no value"]);
}

#[test]
fn compare_means_rotates_long_labels() {
    let cats: Vec<String> = (0..12).map(|i| format!("protocol number {i}")).collect();
    let series = vec![CategorySeries {
        name: "s".into(),
        values: (0..12).map(|i| ms(1.0 + 0.01 * i as f64, 0.02)).collect(),
    }];
    let plot = compare_means(&epsp_frame(), &cats, &series, None).unwrap();
    let doc = parse(&plot.svg);
    let rotated = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("tick-label"))
        .filter(|n| n.attribute("transform").is_some_and(|t| t.starts_with("rotate(-45")))
        .count();
    assert_eq!(rotated, 12);
    assert_eq!(count(&doc, "mark"), 12);
}

#[test]
fn text_is_escaped_and_survives_parsing() {
    let frame = Frame::new("A <&> \"B\" 'C'", "x <units>", "y & z");
    let cats = ["p<&>1", "p2"];
    let series = vec![CategorySeries {
        name: "<series & co>".into(),
        values: vec![ms(1.0, 0.1), ms(2.0, 0.1)],
    }];
    let plot = compare_means(&frame, &cats, &series, None).unwrap();
    let doc = parse(&plot.svg);
    let t = texts(&doc);
    for s in ["A <&> \"B\" 'C'", "x <units>", "y & z", "p<&>1", "<series & co>"] {
        assert!(t.iter().any(|x| x == s), "{s} not found in {t:?}");
    }
    let title = doc.root_element().children().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some("A <&> \"B\" 'C'"));
}

#[test]
fn output_is_byte_identical_across_calls() {
    let f = epsp_frame();
    let a = compare_means(&f, &protocols(), &two_series(), Some(1.0)).unwrap();
    let b = compare_means(&f, &protocols(), &two_series(), Some(1.0)).unwrap();
    assert_eq!(a, b);

    let vals = per_connection();
    let opts = DistributionOptions {
        style: DistributionStyle::BoxAndStrip,
        jitter_seed: 42,
        ..Default::default()
    };
    let a = distributions(&f, &["a", "b", "c"], &vals, &opts).unwrap();
    let b = distributions(&f, &["a", "b", "c"], &vals, &opts).unwrap();
    assert_eq!(a.svg, b.svg);
    // Another seed moves the points only.
    let c = distributions(
        &f,
        &["a", "b", "c"],
        &vals,
        &DistributionOptions {
            jitter_seed: 43,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_ne!(a.svg, c.svg);

    let (x, y, z) = grid();
    let o = HeatmapOptions::default();
    assert_eq!(
        heatmap(&f, &x, &y, &z, &o).unwrap().svg,
        heatmap(&f, &x, &y, &z, &o).unwrap().svg
    );
    let s = frequency_series();
    let lo = LinesOptions {
        log_x: true,
        reference_y: Some(1.0),
    };
    assert_eq!(lines(&f, &s, &lo).unwrap().svg, lines(&f, &s, &lo).unwrap().svg);
}

#[test]
fn nan_means_and_sems_are_left_out_and_noted() {
    let series = vec![CategorySeries {
        name: "in silico".into(),
        values: vec![
            ms(f64::NAN, 0.1),
            ms(1.1, f64::NAN),
            ms(f64::INFINITY, 0.1),
            ms(0.9, 0.05),
        ],
    }];
    let plot = compare_means(&epsp_frame(), &["a", "b", "c", "d"], &series, Some(1.0)).unwrap();
    let doc = parse(&plot.svg);
    assert_eq!(count(&doc, "mark"), 2);
    assert_eq!(count(&doc, "errorbar"), 1);
    assert_eq!(plot.notes.len(), 3, "{:?}", plot.notes);
    assert!(!plot.svg.contains("NaN") && !plot.svg.contains("inf"));
    // The notes are in the description and, shortened, in a footnote.
    assert_eq!(count(&doc, "footnote"), 1);
    let desc = doc.descendants().find(|n| n.has_tag_name("desc")).unwrap();
    assert!(desc.text().unwrap().contains("b: SEM missing or invalid"));
}

#[test]
fn empty_inputs_give_an_empty_but_valid_figure() {
    let f = epsp_frame();
    let no: [&str; 0] = [];
    let plots: Vec<Plot> = vec![
        compare_means(&f, &no, &[], Some(1.0)).unwrap(),
        compare_means(
            &f,
            &["a"],
            &[CategorySeries {
                name: "s".into(),
                values: vec![None],
            }],
            None,
        )
        .unwrap(),
        distributions(&f, &no, &[], &DistributionOptions::default()).unwrap(),
        distributions(&f, &["a"], &[vec![f64::NAN]], &DistributionOptions::default()).unwrap(),
        lines(&f, &[], &LinesOptions::default()).unwrap(),
        lines(
            &f,
            &[XySeries {
                name: "s".into(),
                points: vec![],
            }],
            &LinesOptions {
                log_x: true,
                reference_y: None,
            },
        )
        .unwrap(),
        heatmap(&f, &[], &[], &[], &HeatmapOptions::default()).unwrap(),
    ];
    for p in &plots {
        let doc = parse(&p.svg);
        assert!(texts(&doc).iter().any(|t| t == "no data"), "{}", p.svg);
        for class in ["mark", "point", "cell", "cell-missing", "line"] {
            assert_eq!(count(&doc, class), 0);
        }
    }
}

fn per_connection() -> Vec<Vec<f64>> {
    vec![
        vec![1.1, 1.3, 0.9, 1.25, 1.4],
        vec![],
        vec![0.7, 0.8, f64::NAN, 0.75, 0.95],
    ]
}

#[test]
fn distributions_strip_box_and_overlay() {
    let f = epsp_frame();
    let cats = ["10 Hz +10 ms", "none", "10 Hz −10 ms"];
    let vals = per_connection();

    let strip = distributions(&f, &cats, &vals, &DistributionOptions::default()).unwrap();
    let doc = parse(&strip.svg);
    assert_eq!(count(&doc, "point"), 9, "5 + 0 + 4 finite values");
    assert_eq!(count(&doc, "mean"), 2, "one per non-empty category");
    assert_eq!(count(&doc, "box"), 0);
    assert!(strip.notes.iter().any(|n| n == "none: no value"));
    assert!(strip.notes.iter().any(|n| n.contains("1 non-finite value(s)")));

    let boxed = distributions(
        &f,
        &cats,
        &vals,
        &DistributionOptions {
            style: DistributionStyle::Box,
            ..Default::default()
        },
    )
    .unwrap();
    let doc = parse(&boxed.svg);
    assert_eq!(count(&doc, "point"), 0);
    assert_eq!(count(&doc, "box"), 2);
    assert_eq!(count(&doc, "median"), 2);
    assert_eq!(count(&doc, "whisker"), 2);
    assert_eq!(count(&doc, "mean"), 2);

    let both = distributions(
        &f,
        &cats,
        &vals,
        &DistributionOptions {
            style: DistributionStyle::BoxAndStrip,
            reference_y: Some(1.0),
            overlay: Some(CategorySeries {
                name: "in vitro".into(),
                values: vec![ms(1.2, 0.05), ms(1.0, 0.1), ms(0.8, 0.04)],
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let doc = parse(&both.svg);
    assert_eq!(count(&doc, "point"), 9);
    assert_eq!(count(&doc, "box"), 2);
    assert_eq!(count(&doc, "mark"), 3);
    assert_eq!(count(&doc, "errorbar"), 3);
    assert_eq!(count(&doc, "reference"), 1);
}

#[test]
fn box_plot_marks_outliers() {
    let vals = vec![vec![1.0, 1.1, 1.0, 0.9, 1.05, 0.95, 5.0]];
    let p = distributions(
        &epsp_frame(),
        &["a"],
        &vals,
        &DistributionOptions {
            style: DistributionStyle::Box,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(count(&parse(&p.svg), "outlier"), 1);
}

#[test]
fn fixed_y_range_leaves_out_and_notes_points_beyond_it() {
    let f = epsp_frame().with_y_range(0.5, 1.5);
    let vals = vec![vec![0.8, 1.0, 1.2, 2.5]];
    let p = distributions(&f, &["a"], &vals, &DistributionOptions::default()).unwrap();
    assert_eq!(count(&parse(&p.svg), "point"), 3);
    assert!(p.notes[0].contains("outside the y range"), "{:?}", p.notes);

    let bad = epsp_frame().with_y_range(2.0, 1.0);
    assert!(matches!(
        distributions(&bad, &["a"], &vals, &DistributionOptions::default()),
        Err(ReportError::Invalid { .. })
    ));
}

fn frequency_series() -> Vec<XySeries> {
    let pt = |x: f64, y: f64, e: f64| XyPoint { x, y, err: Some(e) };
    vec![
        XySeries {
            name: "in silico".into(),
            points: vec![
                pt(40.0, 1.3, 0.03),
                pt(0.1, 0.98, 0.02),
                pt(10.0, 1.2, 0.03),
                pt(20.0, 1.25, 0.03),
                pt(5.0, 1.05, 0.02),
            ],
        },
        XySeries {
            name: "in vitro".into(),
            points: vec![
                pt(0.1, 1.0, 0.05),
                XyPoint {
                    x: 5.0,
                    y: 1.02,
                    err: None,
                },
                pt(10.0, 1.18, 0.06),
                pt(0.0, 1.0, 0.1),
                pt(f64::NAN, 1.0, 0.1),
            ],
        },
    ]
}

#[test]
fn lines_with_log_x_and_error_bars() {
    let f = Frame::new("Frequency dependence", "frequency (Hz)", "EPSP ratio");
    let p = lines(
        &f,
        &frequency_series(),
        &LinesOptions {
            log_x: true,
            reference_y: Some(1.0),
        },
    )
    .unwrap();
    let doc = parse(&p.svg);
    assert_eq!(count(&doc, "mark"), 8, "5 + 3 usable points");
    assert_eq!(count(&doc, "errorbar"), 7);
    assert_eq!(count(&doc, "line"), 2);
    assert_eq!(count(&doc, "reference"), 1);
    assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    assert!(p.notes.iter().any(|n| n.contains("x = 0 left out of the log axis")));
    // Decade ticks on the log axis.
    let t = texts(&doc);
    for label in ["0.1", "1", "10"] {
        assert!(t.iter().any(|s| s == label), "tick {label} missing in {t:?}");
    }
    // The polyline runs left to right (points sorted by x).
    let line = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("line"))
        .unwrap();
    let xs: Vec<f64> = line
        .attribute("points")
        .unwrap()
        .split(' ')
        .map(|p| p.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");

    let linear = lines(&f, &frequency_series(), &LinesOptions::default()).unwrap();
    let doc = parse(&linear.svg);
    assert_eq!(count(&doc, "mark"), 9, "x = 0 is fine on a linear axis");
}

fn grid() -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let x = vec![1.0, 10.0, 50.0];
    let y = vec![-10.0, 10.0];
    let z = vec![vec![0.8, 0.6, f64::NAN], vec![1.0, 1.3, 1.5]];
    (x, y, z)
}

#[test]
fn heatmap_cells_nan_cells_and_colour_bar() {
    let f = Frame::new("Rule map", "frequency (Hz)", "Δt (ms)");
    let (x, y, z) = grid();
    let p = heatmap(
        &f,
        &x,
        &y,
        &z,
        &HeatmapOptions {
            annotate: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let doc = parse(&p.svg);
    assert_eq!(count(&doc, "cell"), 5);
    assert_eq!(count(&doc, "cell-missing"), 1);
    assert_eq!(count(&doc, "cell-label"), 5);
    assert!(count(&doc, "colorbar") > 10);
    // The missing cell is listed where a reader sees it.
    assert_eq!(p.notes, ["grey: no value at (x, y) = (50, -10)"]);
    let foot = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("footnote"))
        .unwrap();
    assert!(foot.text().unwrap().contains("(50, -10)"));
    // The grey cell is grey; the cell at the centre value is near-white.
    let nan_cell = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("cell-missing"))
        .unwrap();
    assert_eq!(nan_cell.attribute("fill"), Some("#bdbdbd"));
    let labels = texts(&doc);
    assert!(labels.iter().any(|s| s == "1.00"));
    let centre_fill = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cell"))
        .nth(2) // row 1 (y = 10), column 0: z = 1.0
        .unwrap()
        .attribute("fill")
        .unwrap();
    assert_eq!(centre_fill, "#f6f6f6");
    // Colour bar spans 1 ± 0.5 (largest |z − 1|) with ticks.
    for tick in ["0.5", "1.0", "1.5"] {
        assert!(labels.iter().any(|s| s == tick), "colour-bar tick {tick} in {labels:?}");
    }
}

#[test]
fn heatmap_shape_and_option_errors() {
    let f = Frame::new("", "", "");
    let o = HeatmapOptions::default();
    assert!(matches!(
        heatmap(&f, &[1.0, 2.0], &[1.0], &[vec![1.0]], &o),
        Err(ReportError::Shape {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        heatmap(&f, &[1.0], &[1.0, 2.0], &[vec![1.0]], &o),
        Err(ReportError::Shape { .. })
    ));
    assert!(heatmap(&f, &[f64::NAN], &[1.0], &[vec![1.0]], &o).is_err());
    let bad = HeatmapOptions {
        half_range: Some(0.0),
        ..Default::default()
    };
    assert!(heatmap(&f, &[1.0], &[1.0], &[vec![1.0]], &bad).is_err());
    // All cells missing: a valid figure with every cell grey.
    let p = heatmap(&f, &[1.0, 2.0], &[1.0], &[vec![f64::NAN, f64::NAN]], &o).unwrap();
    let doc = parse(&p.svg);
    assert_eq!(count(&doc, "cell-missing"), 2);
    assert_eq!(count(&doc, "cell"), 0);
}

#[test]
fn shape_mismatch_and_bad_frames_are_errors() {
    let f = epsp_frame();
    let s = vec![CategorySeries {
        name: "s".into(),
        values: vec![ms(1.0, 0.1)],
    }];
    assert!(matches!(
        compare_means(&f, &["a", "b"], &s, None),
        Err(ReportError::Shape {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        distributions(&f, &["a", "b"], &[vec![1.0]], &DistributionOptions::default()),
        Err(ReportError::Shape { .. })
    ));
    assert!(compare_means(&f.clone().with_size(10.0, 10.0), &["a"], &s, None).is_err());
    assert!(compare_means(&f, &["a"], &s, Some(f64::NAN)).is_err());
}

#[test]
fn figures_reference_nothing_external() {
    let f = epsp_frame();
    let (x, y, z) = grid();
    let all = [
        compare_means(&f, &protocols(), &two_series(), Some(1.0)).unwrap(),
        distributions(&f, &["a", "b", "c"], &per_connection(), &Default::default()).unwrap(),
        lines(&f, &frequency_series(), &LinesOptions::default()).unwrap(),
        heatmap(&f, &x, &y, &z, &HeatmapOptions::default()).unwrap(),
    ];
    for p in &all {
        let without_ns = p.svg.replace("http://www.w3.org/2000/svg", "");
        assert!(!without_ns.contains("http"));
        for bad in ["href", "<script", "<style", "url(", " id="] {
            assert!(!p.svg.contains(bad), "{bad} in figure");
        }
    }
}
