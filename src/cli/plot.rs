//! SVG plots for `redflag eval --plot`: the precision-recall curve and the reliability diagram (plotters, SVG
//! backend only, so no font or image libraries are needed).

use std::path::Path;

use plotters::prelude::*;
use redflag::model::metrics;

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing the plot: {e}")
}

pub fn pr_curve(path: &Path, scores: &[f32], labels: &[bool]) -> anyhow::Result<()> {
    let points = metrics::pr_curve(scores, labels);
    let ap = metrics::average_precision(scores, labels);
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Precision-recall (PR-AUC {ap:.3})"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.01f64)
        .map_err(plot_error)?;
    chart.configure_mesh().x_desc("recall").y_desc("precision").draw().map_err(plot_error)?;
    chart.draw_series(LineSeries::new(points, &RED)).map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

pub fn reliability(path: &Path, scores: &[f32], labels: &[bool]) -> anyhow::Result<()> {
    let bins = metrics::reliability(scores, labels, 10);
    let ece = metrics::expected_calibration_error(scores, labels, 10);
    let root = SVGBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Reliability (ECE {ece:.3})"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("predicted probability of scam")
        .y_desc("observed share of scams")
        .draw()
        .map_err(plot_error)?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], &BLACK.mix(0.3))).map_err(plot_error)?;
    chart
        .draw_series(LineSeries::new(bins.iter().map(|(p, o, _)| (*p, *o)), &BLUE).point_size(3))
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}
