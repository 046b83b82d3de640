import Explain
import Foundation
import Imaging

/// The map each overlay shows, [H·W] values for the colour map's [0, 1]:
/// the entry's map from cams.npy, except that
/// - with `--normalize none` the maps are divided by their largest value over
///   the whole sequence (as computed they can be any size; one divisor keeps
///   their strengths comparable, like `sequence`);
/// - guided backpropagation, which has no cam, shows the guided gradient's
///   absolute value summed over the colour channels, min-max normalised per entry.
func displayMaps(_ doc: ExportDocument) -> [[Float]] {
    let e = doc.explanation, t = doc.count
    let plane = e.inputSize.height * e.inputSize.width
    if e.method.hasLayerMap, let cams = e.cams {
        let values = cams.values
        let scale: Float = doc.normalize == .none ? 1 / (values.max().flatMap { $0 > 0 ? $0 : nil } ?? 1) : 1
        return (0..<t).map { k in values[(k * plane)..<((k + 1) * plane)].map { $0 * scale } }
    }
    guard let guided = e.guided else { return [] }
    let g = guided.values
    return (0..<t).map { k in
        var map = [Float](repeating: 0, count: plane)
        for c in 0..<3 {
            let base = (k * 3 + c) * plane
            for i in 0..<plane { map[i] += abs(g[base + i]) }
        }
        let lo = map.min() ?? 0, span = (map.max() ?? 0) - lo
        return span > 0 ? map.map { ($0 - lo) / span } : [Float](repeating: 0, count: plane)
    }
}

/// What drawing needs from a document. It is `Sendable`, so the overlays
/// and the sheet are drawn and encoded on all cores: they are independent and
/// most of an export's time.
struct Painter: Sendable {
    let image: RGBImage
    /// The maps' size, the model input's.
    let mapHeight: Int, mapWidth: Int
    let colormap: Colormap
    let alpha: Float
    /// Each entry's label and the score that labels its thumbnail.
    let labels: [(text: String, score: Float)]

    init(_ doc: ExportDocument) {
        image = doc.image
        (mapHeight, mapWidth) = doc.explanation.inputSize
        colormap = doc.colormap
        alpha = doc.alpha
        labels = doc.explanation.entries.map { ($0.label, $0.score) }
    }

    /// A map over the original image at its original size.
    func overlay(_ map: [Float]) -> RGBImage {
        image.overlay(map: map, mapWidth: mapWidth, mapHeight: mapHeight, colormap: colormap, alpha: alpha)
    }

    /// The contact sheet: the original image, then every entry's overlay, at
    /// most `columns` to a row and each at most `thumbnail` pixels on its
    /// longer side, labelled with the token and its score.
    func contactSheet(maps: [[Float]], columns: Int = 8, thumbnail: Int = 160) -> RGBImage {
        let scale = min(1, Double(thumbnail) / Double(max(image.width, image.height)))
        let tw = max(1, Int((Double(image.width) * scale).rounded()))
        let th = max(1, Int((Double(image.height) * scale).rounded()))
        let base = image.resized(width: tw, height: th)

        // Cells are at least 12 characters wide so small thumbnails keep readable labels.
        let pad = 8, line = RGBImage.textSize("X").height + 3
        let cellWidth = max(tw, RGBImage.textSize(String(repeating: "X", count: 12)).width)
        let cellHeight = th + 2 * line + 4
        let cells = [("image", "\(image.width)x\(image.height)", base)] + zip(labels, maps).map { label, map in
            (label.text, "score " + formatted(label.score),
             base.overlay(map: map, mapWidth: mapWidth, mapHeight: mapHeight, colormap: colormap, alpha: alpha))
        }
        let perRow = min(columns, cells.count), rows = (cells.count + perRow - 1) / perRow
        var sheet = RGBImage(width: pad + perRow * (cellWidth + pad), height: pad + rows * (cellHeight + pad))
        let maxChars = (cellWidth + 1) / 6
        for (i, (title, subtitle, thumb)) in cells.enumerated() {
            let x = pad + (i % perRow) * (cellWidth + pad), y = pad + (i / perRow) * (cellHeight + pad)
            sheet.paste(thumb, x: x + (cellWidth - tw) / 2, y: y)
            sheet.drawText(truncated(title, maxChars), x: x, y: y + th + 4, color: (0, 0, 0))
            sheet.drawText(truncated(subtitle, maxChars), x: x, y: y + th + 4 + line, color: (90, 90, 90))
        }
        return sheet
    }
}

/// `body(0)`, `body(1)`, … `body(count - 1)` on all cores, results in order;
/// the first error (by index) is thrown.
func concurrentMap(_ count: Int, _ body: @Sendable (Int) throws -> [UInt8]) throws -> [[UInt8]] {
    var results = [Result<[UInt8], Error>](repeating: .success([]), count: count)
    results.withUnsafeMutableBufferPointer { slots in
        // Each iteration writes only its own slot.
        nonisolated(unsafe) let slots = slots
        DispatchQueue.concurrentPerform(iterations: count) { k in slots[k] = Result { try body(k) } }
    }
    return try results.map { try $0.get() }
}

/// A score for people: three decimals, or "nan"/"inf"/"-inf".
func formatted(_ value: Float) -> String {
    value.isFinite ? String(format: "%.3f", Double(value)) : "\(value)"
}

/// One line of at most `count` characters, "~" marking a cut.
private func truncated(_ text: String, _ count: Int) -> String {
    let line = text.replacingOccurrences(of: "\n", with: " ")
    return line.count <= count ? line : String(line.prefix(max(count - 1, 0))) + "~"
}
