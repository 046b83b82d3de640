import Explain
import Foundation
import Imaging

/// What an entry's overlay shows.
enum Display: Sendable {
    /// A map for the colour map's [0, 1], [H·W] at the model input's size,
    /// drawn over the image.
    case heat([Float])
    /// A picture of its own at the model input's size: the guided gradient
    /// (guided backpropagation, Guided Grad-CAM), drawn as the paper shows it.
    case picture(RGBImage)
}

/// Each entry's display: the guided gradient for the guided methods (for
/// Guided Grad-CAM, guided backpropagation times the Grad-CAM map, whose cam
/// alone is in cams.npy), else the map from cams.npy — with `--normalize none`
/// divided by its largest value over the whole sequence (as computed the maps
/// can be any size; one divisor keeps their strengths comparable).
func displays(_ doc: ExportDocument) -> [Display] {
    let e = doc.explanation, t = doc.count
    let (height, width) = e.inputSize
    let plane = height * width
    if e.method.needsGuidedGradient, let guided = e.guided {
        let g = guided.values
        return (0..<t).map { k in .picture(gradientImage(g[(k * 3 * plane)..<((k + 1) * 3 * plane)], width: width, height: height)) }
    }
    return heatMaps(doc)
}

/// Each entry's map from cams.npy as a heat display (see `displays`).
func heatMaps(_ doc: ExportDocument) -> [Display] {
    let e = doc.explanation, plane = e.inputSize.height * e.inputSize.width
    guard let cams = e.cams else { return [] }
    let values = cams.values
    let scale: Float = doc.normalize == .none ? 1 / (values.max().flatMap { $0 > 0 ? $0 : nil } ?? 1) : 1
    return (0..<doc.count).map { k in .heat(values[(k * plane)..<((k + 1) * plane)].map { $0 * scale }) }
}

/// Each entry's attention maps (an attention captioner's weights over its
/// map's cells, or an attention VQA model's glimpses), as heat displays at the
/// model input's size: bilinear from the cells, each divided by its own
/// largest weight. `maps[k][g]` is entry k's map g; nil without attention.
func attentionMaps(_ doc: ExportDocument) -> [[Display]]? {
    guard let attention = doc.attention else { return nil }
    let t = attention.shape[0], g = doc.attentionMapsPerEntry
    let (h, w) = (attention.shape[attention.rank - 2], attention.shape[attention.rank - 1])
    let (height, width) = doc.explanation.inputSize, plane = height * width
    guard t > 0 else { return [] }
    let up = attention.reshaped([t * g, 1, h, w]).resizedBilinear(height: height, width: width).values
    return (0..<t).map { k in
        (0..<g).map { j in
            let map = up[((k * g + j) * plane)..<((k * g + j + 1) * plane)]
            let top = map.max().flatMap { $0 > 0 ? $0 : nil } ?? 1
            return .heat(map.map { $0 / top })
        }
    }
}

/// A gradient [3, H, W] as an image, as the guided backpropagation papers (and
/// pytorch-grad-cam's `deprocess_image`) show it: centred, scaled to a
/// standard deviation of 0.1 around grey, clipped. pytorch-grad-cam divides by
/// std + 1e-5, which turns the gradient of a confident word (std ~1e-9) grey;
/// here only a zero std is left alone.
func gradientImage(_ g: ArraySlice<Float>, width: Int, height: Int) -> RGBImage {
    let n = Float(g.count)
    let mean = g.reduce(0, +) / n
    let deviation = (g.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
    let std = deviation > 0 ? deviation : 1
    let plane = width * height, start = g.startIndex
    var pixels = [UInt8](repeating: 0, count: 3 * plane)
    for i in 0..<plane {
        for c in 0..<3 {
            let v = (g[start + c * plane + i] - mean) / std * 0.1 + 0.5
            pixels[3 * i + c] = UInt8((Swift.min(Swift.max(v, 0), 1) * 255).rounded())
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// What drawing needs from a document. It is `Sendable`, so the overlays
/// and the sheet are drawn and encoded on all cores: they are independent and
/// most of an export's time.
struct Painter: Sendable {
    private(set) var image: RGBImage
    /// The maps' size, the model input's.
    let mapHeight: Int, mapWidth: Int
    let colormap: Colormap
    let alpha: Float
    /// Each entry's label and what is written under it: its probability where
    /// the document has one (a word's is exp(log p)), else the score.
    let labels: [(text: String, detail: String)]
    /// The method, layer and score, written at the top of the sheet.
    let settings: String
    /// What the sheet's top says: the settings, and a VQA explanation's question.
    let header: String

    init(_ doc: ExportDocument) {
        image = doc.image
        (mapHeight, mapWidth) = doc.explanation.inputSize
        colormap = doc.colormap
        alpha = doc.alpha
        let probabilities = doc.logprobs.map { $0.map { Foundation.exp($0) } } ?? doc.probabilities
        labels = doc.explanation.entries.enumerated().map { k, entry in
            (entry.label, probabilities.map { "p " + formatted($0[k]) } ?? "score " + formatted(entry.score))
        }
        let e = doc.explanation
        settings = e.method.rawValue + (e.method.hasLayerMap ? " at " + e.layer : "") + ", score " + doc.score.rawValue
            + (doc.counterfactual ? ", counterfactual" : "") + (e.augSmooth ? ", aug-smooth" : "")
            + (e.eigenSmooth ? ", eigen-smooth" : "")
        header = settings + (doc.question.map { "\nquestion: " + $0.text.replacingOccurrences(of: "\n", with: " ") } ?? "")
    }

    /// The same painter over the image shrunk to at most `side` pixels on its
    /// longer side (itself when the image is no larger).
    func fitting(_ side: Int) -> Painter {
        let longer = max(image.width, image.height)
        guard longer > side else { return self }
        var small = self
        let scale = Double(side) / Double(longer)
        small.image = image.resized(width: max(1, Int((Double(image.width) * scale).rounded())),
                                    height: max(1, Int((Double(image.height) * scale).rounded())))
        return small
    }

    /// An entry's display at the image's size: a map over the image, or the
    /// guided gradient's picture.
    func overlay(_ display: Display) -> RGBImage {
        draw(display, over: image)
    }

    private func draw(_ display: Display, over base: RGBImage) -> RGBImage {
        switch display {
        case .heat(let map):
            return base.overlay(map: map, mapWidth: mapWidth, mapHeight: mapHeight, colormap: colormap, alpha: alpha)
        case .picture(let picture):
            return picture.resized(width: base.width, height: base.height)
        }
    }

    /// The contact sheet: the settings (and question), the original image, then every
    /// entry's display, at most `columns` to a row and each at most `thumbnail`
    /// pixels on its longer side, labelled with the token and its probability.
    /// With `attention`, each entry's attention maps are drawn under its display.
    func contactSheet(_ displays: [Display], attention: [[Display]]? = nil, columns: Int = 8, thumbnail: Int = 160) -> RGBImage {
        let scale = min(1, Double(thumbnail) / Double(max(image.width, image.height)))
        let tw = max(1, Int((Double(image.width) * scale).rounded()))
        let th = max(1, Int((Double(image.height) * scale).rounded()))
        let base = image.resized(width: tw, height: th)

        // Cells are at least 12 characters wide so small thumbnails keep readable labels.
        let pad = 8, line = RGBImage.textSize("X").height + 3
        let cellWidth = max(tw, RGBImage.textSize(String(repeating: "X", count: 12)).width)
        let glimpses = attention?.first?.count ?? 0, stacked = 1 + glimpses
        let cellHeight = stacked * (th + 4) + 2 * line
        let cells = [("image", "\(image.width)x\(image.height)", [base])] + labels.indices.map { k in
            (labels[k].text, labels[k].detail, [draw(displays[k], over: base)] + (attention?[k].map { draw($0, over: base) } ?? []))
        }
        let perRow = min(columns, cells.count), rows = (cells.count + perRow - 1) / perRow
        let header = switch (attention, glimpses) {
        case (nil, _): self.header
        case (_, 1): self.header + "\nupper: the method's map; lower: where the decoder attended"
        default: self.header + "\ntop: the method's map; below it: where the model attended, glimpse 1 to \(glimpses)"
        }
        let top = pad + RGBImage.textSize(header).height + 3
        var sheet = RGBImage(width: max(pad + perRow * (cellWidth + pad), RGBImage.textSize(header).width + 2 * pad),
                             height: top + pad + rows * (cellHeight + pad))
        sheet.drawText(header, x: pad, y: pad, color: (0, 0, 0))
        let maxChars = (cellWidth + 1) / 6
        for (i, (title, subtitle, thumbs)) in cells.enumerated() {
            let x = pad + (i % perRow) * (cellWidth + pad), y = top + pad + (i / perRow) * (cellHeight + pad)
            for (j, thumb) in thumbs.enumerated() { sheet.paste(thumb, x: x + (cellWidth - tw) / 2, y: y + j * (th + 4)) }
            let text = y + stacked * (th + 4)
            sheet.drawText(truncated(title, maxChars), x: x, y: text, color: (0, 0, 0))
            sheet.drawText(truncated(subtitle, maxChars), x: x, y: text + line, color: (90, 90, 90))
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

/// The pictures report.html holds, encoded: the image once (at most
/// `reportSide` pixels on a side; a photo as JPEG), and per entry its layer
/// at the model input's size — the coloured map, drawn over the image by the
/// page at the opacity its slider sets, or the guided gradient's picture —
/// plus, for Guided Grad-CAM, the guided picture beside the Grad-CAM map, and
/// for an attention model each entry's attention maps over the image.
/// A 12 MP photo's 16-word report thus stays under 2 MB (0.47 MB measured, attention included).
struct ReportPictures {
    let image: (bytes: [UInt8], type: String, width: Int, height: Int)
    let layers: [[UInt8]]
    let guided: [[UInt8]]
    /// Attention models: `attention[g][k]` is entry k's attention map g (a captioner
    /// has one, a VQA model one per glimpse) over the image — a photo's as JPEG
    /// like the image (`attentionType`), since a PNG of a photo is ten times larger.
    let attention: [[[UInt8]]]
    let attentionType: String
    let layerSize: (width: Int, height: Int)
    /// Whether the layers are coloured maps (which the opacity slider and the colour bar serve).
    let heat: Bool
    /// The colour map as a 256 × 1 strip, for the colour bar.
    let colorbar: [UInt8]

    init(_ doc: ExportDocument, _ shown: [Display], attention attentionShown: [[Display]]?, _ painter: Painter) throws {
        let fitted = painter.fitting(reportSide), small = fitted.image
        let photo = small.width < doc.image.width
        image = (photo ? try small.encodeJPEG(quality: 85) : try small.encodePNG(), photo ? "jpeg" : "png", small.width, small.height)
        let e = doc.explanation
        let (width, height) = (e.inputSize.width, e.inputSize.height), colormap = doc.colormap
        layerSize = (width, height)
        let blank = RGBImage(width: width, height: height)
        @Sendable func colored(_ map: [Float]) -> RGBImage {
            blank.overlay(map: map, mapWidth: width, mapHeight: height, colormap: colormap, alpha: 1)
        }
        // Guided Grad-CAM shows its Grad-CAM map as the layer and the guided picture beside it.
        let maps = e.method == .guidedGradcam ? heatMaps(doc) : shown
        heat = e.method.hasLayerMap
        layers = try concurrentMap(maps.count) { k in
            switch maps[k] {
            case .heat(let map): return try colored(map).encodePNG()
            case .picture(let picture): return try picture.encodePNG()
            }
        }
        guided = e.method == .guidedGradcam ? try concurrentMap(shown.count) { k in
            guard case .picture(let picture) = shown[k] else { return [] }
            return try picture.encodePNG()
        } : []
        let attentionShown = attentionShown ?? []
        attentionType = image.type
        attention = try (0..<doc.attentionMapsPerEntry).map { g in
            try concurrentMap(attentionShown.count) { k in
                let picture = fitted.overlay(attentionShown[k][g])
                return try photo ? picture.encodeJPEG(quality: 85) : picture.encodePNG()
            }
        }
        colorbar = try RGBImage(width: 256, height: 1).overlay(map: (0..<256).map { Float($0) / 255 }, mapWidth: 256, mapHeight: 1,
                                                               colormap: doc.colormap, alpha: 1).encodePNG()
    }
}
