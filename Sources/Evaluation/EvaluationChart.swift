import Explain
import Imaging

/// A bar chart of grounding scores: for each method and baseline, its pointing
/// game, energy and IoU as three bars, labelled, on a white canvas.
public func groundingChart(_ report: EvaluationReport) -> RGBImage {
    let names = report.groundingNames
    let metrics: [(String, (GroundingScores) -> Double, (UInt8, UInt8, UInt8))] = [
        ("pointing game", \.pointingGame, (31, 119, 180)),
        ("energy", \.energy, (255, 127, 14)),
        ("iou", \.iou, (44, 160, 44)),
    ]
    let bar = 18, gap = 24, chartHeight = 200, top = 40, left = 40
    // Each group is wide enough for its name (16 characters at most), so no two labels overlap.
    let groupWidth = max(metrics.count * bar + gap, RGBImage.textSize(String(repeating: "x", count: 16)).width + 8)
    let tokens = names.first.flatMap { report.grounding[$0]?.count } ?? 0
    let title = "\(report.task) grounding: \(tokens) tokens of \(report.count) images"
    let width = max(left + max(names.count, 1) * groupWidth + 20, left + RGBImage.textSize(title, scale: 2).width + 20)
    var image = RGBImage(width: width, height: top + chartHeight + 60, color: (255, 255, 255))
    image.drawText(title, x: left, y: 10, scale: 2, color: (0, 0, 0))
    // Axis and gridlines at 0, 0.5, 1.
    for (value, label) in [(0.0, "0"), (0.5, ".5"), (1.0, "1")] {
        let y = top + chartHeight - Int(value * Double(chartHeight))
        for x in left..<(width - 10) { image[x, y] = (200, 200, 200) }
        image.drawText(label, x: 8, y: y - 3, color: (80, 80, 80))
    }
    for (i, name) in names.enumerated() {
        let scores = report.grounding[name]!
        let x0 = left + i * groupWidth + gap / 2
        for (m, metric) in metrics.enumerated() {
            let h = Int((min(max(metric.1(scores), 0), 1) * Double(chartHeight)).rounded())
            for y in (top + chartHeight - h)..<(top + chartHeight) {
                for x in (x0 + m * bar)..<(x0 + (m + 1) * bar - 2) { image[x, y] = metric.2 }
            }
        }
        image.drawText(String(name.prefix(16)), x: x0, y: top + chartHeight + 8, color: (0, 0, 0))
    }
    for (m, metric) in metrics.enumerated() {
        let x = left + m * 120, y = top + chartHeight + 30
        for dy in 0..<8 { for dx in 0..<8 { image[x + dx, y + dy] = metric.2 } }
        image.drawText(metric.0, x: x + 12, y: y, color: (0, 0, 0))
    }
    return image
}
