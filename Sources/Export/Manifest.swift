import Explain

/// The text of `manifest.json` for `doc` (export-format.md), the same text
/// `writeExport` puts in the directory; `--json` prints it. Files listed in it are
/// those the document's formats produce: `raw`/`cams` with `npy`, each
/// record's `overlay` with `png`.
///
/// Sizes are [height, width], like `peak`'s [row, column]. Guided
/// backpropagation has no layer map, so its records have no `cam_max` or
/// `peak` and the manifest no `raw`, `cams` or `layer_size`. Non-finite
/// scores (a log-probability of −inf) are written as `null`.
public func manifestJSON(_ doc: ExportDocument) throws -> String {
    try manifestValue(doc).rendered()
}

/// The manifest as a value, to embed in a larger JSON (`gradcam serve`'s answers).
public func manifestValue(_ doc: ExportDocument) throws -> JSON {
    try doc.validate()
    return manifest(doc)
}

func manifest(_ doc: ExportDocument) -> JSON {
    let e = doc.explanation
    let npy = doc.formats.contains(.npy), png = doc.formats.contains(.png)
    var fields: [(String, JSON)] = [
        ("format", .string("gradcam-export/1")),
        ("task", .string(doc.task.rawValue)),
        ("image", .object([("path", .string(doc.imagePath)), ("width", .int(doc.image.width)),
                           ("height", .int(doc.image.height))])),
        ("model", .object([("path", .string(doc.modelPath)), ("sha256", .string(doc.weightsSHA256))])),
        ("method", .string(e.method.rawValue)),
        ("layer", .string(e.layer)),
        ("score", .string(doc.score.rawValue)),
        ("counterfactual", .bool(doc.counterfactual)),
        ("normalize", .string(doc.normalize.rawValue)),
    ]
    // `--aug-smooth`, `--eigen-smooth`: only when asked, so an unsmoothed manifest is export-format's own.
    if e.augSmooth { fields.append(("aug_smooth", .bool(true))) }
    if e.eigenSmooth { fields.append(("eigen_smooth", .bool(true))) }
    fields.append(("input_size", .array([.int(e.inputSize.height), .int(e.inputSize.width)])))
    if e.method.hasLayerMap, let size = e.layerSize {
        fields.append(("layer_size", .array([.int(size.height), .int(size.width)])))
    }
    if let text = doc.text { fields.append(("text", .string(text))) }
    if let question = doc.question {
        fields.append(("question", .object([
            ("text", .string(question.text)),
            ("tokens", .array(question.tokens.map {
                .object([("token", .string($0.token)), ("id", .int($0.id)), ("unk", .bool($0.unknown))])
            })),
        ])))
    }
    let names = overlayNames(doc)
    fields.append(("tokens", .array(e.entries.enumerated().map { k, entry in
        var record: [(String, JSON)] = [("index", .int(k)), ("token", .string(entry.label)), ("id", .int(entry.id))]
        // `caption --whole`: the caption's summed log-probability, not a word.
        if doc.task == .captioning && entry.id == -1 { record.append(("whole_caption", .bool(true))) }
        if let logprobs = doc.logprobs { record.append(("logprob", .number(logprobs[k]))) }
        if let probabilities = doc.probabilities { record.append(("probability", .number(probabilities[k]))) }
        record.append(("score", .number(entry.score)))
        if let f = doc.faithfulness?[k] {
            record.append(("faithfulness", .object([("deletion", .number(f.deletion)), ("insertion", .number(f.insertion)),
                                                    ("deletion_random", .number(f.randomDeletion)),
                                                    ("insertion_random", .number(f.randomInsertion)),
                                                    ("road_morf", .number(f.road.mostRelevantFirst)),
                                                    ("road_lerf", .number(f.road.leastRelevantFirst)),
                                                    ("road", .number(f.road.combined))])))
        }
        if e.method.hasLayerMap {
            record.append(("cam_max", .number(entry.camMax)))
            record.append(("peak", .array(entry.peak.map { .int($0) })))
        }
        if png { record.append(("overlay", .string("overlays/" + names[k]))) }
        return .object(record)
    })))
    if npy, e.method.hasLayerMap {
        fields.append(("raw", .string("raw.npy")))
        fields.append(("cams", .string("cams.npy")))
    }
    if let attention = doc.attention {
        let (h, w) = (attention.shape[attention.rank - 2], attention.shape[attention.rank - 1])
        fields.append(("attention_size", .array([.int(h), .int(w)])))
        if attention.rank == 4 { fields.append(("glimpses", .int(attention.shape[1]))) }
        if npy { fields.append(("attention", .string("attention.npy"))) }
    }
    if let beam = doc.beam {
        fields.append(("beam", .object([("size", .int(beam.size)), ("rank", .int(beam.rank)),
                                        ("logprob", .number(beam.logprob))])))
    }
    return .object(fields)
}

/// `NN-TOKEN.png` for every entry: NN the index zero-padded to the width of
/// T − 1 and at least two digits (so names sort in order), TOKEN the label
/// with every Unicode scalar outside [A-Za-z0-9_-] replaced by `_` — per
/// scalar, as Python's `re.sub(r'[^A-Za-z0-9_-]', '_', token)` does, so other
/// tools can predict the names.
func overlayNames(_ doc: ExportDocument) -> [String] {
    let entries = doc.explanation.entries
    let digits = max(2, String(max(entries.count - 1, 0)).count)
    return entries.enumerated().map { k, entry in
        let number = String(k)
        let safe = String(String.UnicodeScalarView(entry.label.unicodeScalars.map { isSafe($0) ? $0 : "_" }))
        return String(repeating: "0", count: digits - number.count) + number + "-" + safe + ".png"
    }
}

/// Whether `scalar` may stay in a file name: [A-Za-z0-9_-].
private func isSafe(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "A"..."Z", "a"..."z", "0"..."9", "_", "-": return true
    default: return false
    }
}
