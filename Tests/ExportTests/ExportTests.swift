import AtomicOutput
@testable import Explain
@testable import Export
import Foundation
import Imaging
import Tensor
import XCTest

final class ExportTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testCaptionExportMatchesTheSpec() throws {
        let out = dir + "/out"
        let doc = captionDocument(labels: ["red", "what's", "a/b"])
        try writeExport(doc, to: out)

        XCTAssertEqual(listing(out), ["cams.npy", "manifest.json", "overlays", "raw.npy", "report.html", "sheet.png"])
        XCTAssertEqual(listing(out + "/overlays"), ["00-red.png", "01-what_s.png", "02-a_b.png"])
        XCTAssertEqual(listing(dir), ["out"], "no temporary directory is left beside the export")

        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual(m["format"] as? String, "gradcam-export/1")
        XCTAssertEqual(m["task"] as? String, "captioning")
        XCTAssertEqual(m["image"] as? NSDictionary, ["path": "images/scene 1.png", "width": 40, "height": 30])
        XCTAssertEqual(m["model"] as? NSDictionary, ["path": "Models/shapes-captioner", "sha256": String(repeating: "ab", count: 32)])
        XCTAssertEqual(m["method"] as? String, "gradcam")
        XCTAssertEqual(m["layer"] as? String, "backbone.features.12")
        XCTAssertEqual(m["score"] as? String, "logprob")
        XCTAssertEqual(m["counterfactual"] as? Bool, false)
        XCTAssertEqual(m["normalize"] as? String, "token")
        XCTAssertEqual(m["input_size"] as? [Int], [32, 32])
        XCTAssertEqual(m["layer_size"] as? [Int], [4, 4])
        XCTAssertEqual(m["text"] as? String, "red what's a/b")
        XCTAssertEqual(m["raw"] as? String, "raw.npy")
        XCTAssertEqual(m["cams"] as? String, "cams.npy")
        XCTAssertEqual(m["beam"] as? NSDictionary, ["size": 3, "rank": 0, "logprob": -1.93])
        XCTAssertNil(m["question"])

        let tokens = try XCTUnwrap(m["tokens"] as? [[String: Any]])
        XCTAssertEqual(tokens.count, 3)
        for (k, (token, record)) in zip(["red", "what's", "a/b"], tokens).enumerated() {
            let entry = doc.explanation.entries[k]
            XCTAssertEqual(Set(record.keys), ["index", "token", "id", "logprob", "score", "cam_max", "peak", "overlay"])
            XCTAssertEqual(record["index"] as? Int, k)
            XCTAssertEqual(record["token"] as? String, token)
            XCTAssertEqual(record["id"] as? Int, 10 + k)
            XCTAssertEqual((record["logprob"] as? Double).map(Float.init), doc.logprobs?[k])
            XCTAssertEqual((record["score"] as? Double).map(Float.init), entry.score)
            XCTAssertEqual(record["cam_max"] as? Double, 1)
            XCTAssertEqual(record["peak"] as? [Int], [k, 3 - k])
            XCTAssertEqual(record["overlay"] as? String, "overlays/" + ["00-red.png", "01-what_s.png", "02-a_b.png"][k])
        }

        // Keys in the order the spec lists them.
        let text = try String(contentsOfFile: out + "/manifest.json", encoding: .utf8)
        let keys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.dropFirst(3).prefix { $0 != "\"" } }
        XCTAssertEqual(keys, ["format", "task", "image", "model", "method", "layer", "score", "counterfactual",
                              "normalize", "input_size", "layer_size", "text", "tokens", "raw", "cams", "beam"])
        XCTAssertEqual(text, try manifestJSON(doc), "--json prints what was written")
    }

    func testArraysHoldTheExplanation() throws {
        let out = dir + "/out"
        let doc = captionDocument(labels: ["red", "what's", "a/b"])
        try writeExport(doc, to: out)
        let raw = try NPY.read(out + "/raw.npy"), cams = try NPY.read(out + "/cams.npy")
        XCTAssertEqual(raw.shape, [3, 4, 4])
        XCTAssertEqual(raw.values, doc.explanation.raw?.values)
        XCTAssertEqual(cams.shape, [3, 32, 32])
        XCTAssertEqual(cams.values, doc.explanation.cams?.values)

        let loaded = try numpyLoad(out + "/cams.npy")
        XCTAssertEqual(loaded.shape, [3, 32, 32])
        XCTAssertEqual(loaded.dtype, "float32")
        XCTAssertEqual(loaded.values, doc.explanation.cams?.values)
    }

    /// An attention captioner's export: attention.npy as given, listed in the manifest with its
    /// size, drawn under each word in the sheet and beside the map in the report; a shape that
    /// disagrees with the entries is refused before anything is written.
    func testAttentionMapsAreExported() throws {
        var doc = captionDocument(labels: ["red", "circle"])
        let plain = Painter(doc).contactSheet(displays(doc))
        let weights: [Float] = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0, 0.2, 0.2, 0.3, 0.3]
        doc.attention = Tensor(shape: [2, 2, 3], values: weights)
        let out = dir + "/out"
        try writeExport(doc, to: out)
        XCTAssertEqual(listing(out), ["attention.npy", "cams.npy", "manifest.json", "overlays", "raw.npy", "report.html", "sheet.png"])
        let attention = try NPY.read(out + "/attention.npy")
        XCTAssertEqual(attention.shape, [2, 2, 3])
        XCTAssertEqual(attention.values, weights)
        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual(m["attention"] as? String, "attention.npy")
        XCTAssertEqual(m["attention_size"] as? [Int], [2, 3])
        let sheet = try RGBImage(contentsOf: out + "/sheet.png")
        XCTAssertGreaterThanOrEqual(sheet.height, plain.height + 30 + 4, "a second thumbnail under each word")
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("id=\"attention-0\"") && report.contains("id=\"attention-1\""))
        // The first word's attention peaks at the top-left cell: so does its drawing.
        let maps = try XCTUnwrap(attentionMaps(doc))
        XCTAssertEqual(maps.map(\.count), [1, 1], "one attention map per word")
        guard case let .heat(first) = maps[0][0] else { return XCTFail("attention is drawn as heat") }
        XCTAssertEqual(first[0], 1, accuracy: 1e-6)
        XCTAssertLessThan(first[31 * 32 + 31], 0.3)

        doc.attention = Tensor(shape: [3, 2, 3], values: weights + [0, 0, 0, 0, 0, 1])
        XCTAssertThrowsError(try writeExport(doc, to: dir + "/bad")) { XCTAssertTrue("\($0)".contains("attention has shape [3, 2, 3]")) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
    }

    /// An attention VQA model's export: every answer's glimpses [K, G, h, w], the manifest
    /// counting them, each drawn under the answer's map in the sheet and in its own report panel.
    func testGlimpsesAreExported() throws {
        var doc = captionDocument(labels: ["red", "blue"])
        let plain = Painter(doc).contactSheet(displays(doc))
        let glimpse: [Float] = [0.7, 0.1, 0.1, 0.1, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5]   // two glimpses over 2×3 cells
        doc.attention = Tensor(shape: [2, 2, 2, 3], values: glimpse + glimpse)
        let out = dir + "/out"
        try writeExport(doc, to: out)
        XCTAssertEqual(try NPY.read(out + "/attention.npy").shape, [2, 2, 2, 3])
        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual(m["attention_size"] as? [Int], [2, 3])
        XCTAssertEqual(m["glimpses"] as? Int, 2)
        let sheet = try RGBImage(contentsOf: out + "/sheet.png")
        XCTAssertGreaterThanOrEqual(sheet.height, plain.height + 2 * (30 + 4), "two glimpse thumbnails under each answer")
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        for id in ["glimpse1-0", "glimpse1-1", "glimpse2-0", "glimpse2-1"] { XCTAssertTrue(report.contains("id=\"\(id)\""), id) }
        XCTAssertTrue(report.contains("glimpse 2 of 2"))
        let maps = try XCTUnwrap(attentionMaps(doc))
        guard case let .heat(first) = maps[1][0], case let .heat(second) = maps[1][1] else { return XCTFail("glimpses are heat") }
        XCTAssertEqual(first[0], 1, accuracy: 1e-6, "glimpse 1 peaks at the top-left cell")
        XCTAssertEqual(second[31 * 32 + 31], 1, accuracy: 1e-6, "glimpse 2 at the bottom-right one")
        XCTAssertLessThan(second[0], 0.3)
    }

    /// Words so confident that their log-probability maps are faint are named in the
    /// report with the advice to explain the logit; others, and other scores, are not.
    func testReportNamesFaintWords() throws {
        var doc = captionDocument(labels: ["a", "red", "circle"])
        let plain = reportHTML(doc, pictures: try ReportPictures(doc, displays(doc), attention: nil, Painter(doc)))
        XCTAssertFalse(plain.contains("--score logit"))
        doc.logprobs = [-3e-7, -0.5, -2e-5]
        let faint = reportHTML(doc, pictures: try ReportPictures(doc, displays(doc), attention: nil, Painter(doc)))
        XCTAssertTrue(faint.contains("<p class=\"note\">a, circle: log p &gt; -0.0001"), faint)
        XCTAssertTrue(faint.contains("--score logit explains the same evidence unscaled"))
        doc.score = .logit
        XCTAssertFalse(reportHTML(doc, pictures: try ReportPictures(doc, displays(doc), attention: nil, Painter(doc)))
            .contains("--score logit"))
    }

    func testOverlaysAreTheMapsOverTheOriginalImageAtItsSize() throws {
        let out = dir + "/out"
        let doc = captionDocument(labels: ["red", "what's", "a/b"])
        try writeExport(doc, to: out)
        let cams = try XCTUnwrap(doc.explanation.cams?.values)
        for (k, name) in ["00-red.png", "01-what_s.png", "02-a_b.png"].enumerated() {
            let overlay = try RGBImage(contentsOf: out + "/overlays/" + name)
            let map = Array(cams[(k * 1024)..<((k + 1) * 1024)])
            XCTAssertEqual(overlay, doc.image.overlay(map: map, mapWidth: 32, mapHeight: 32, colormap: .jet, alpha: 0.5))
        }
        let sheet = try RGBImage(contentsOf: out + "/sheet.png")
        XCTAssertEqual(sheet.height, 8 + 12 + 8 + 30 + 2 * 12 + 4 + 8, "the settings, then one row: thumbnail and two label lines")
        XCTAssertGreaterThanOrEqual(sheet.width, 4 * 40)
    }

    func testSheetWrapsAfterEightAndShrinksLargeImages() throws {
        let doc = captionDocument(labels: (0..<9).map { "w\($0)" }, image: rampImage(width: 320, height: 200))
        let sheet = Painter(doc).contactSheet(displays(doc))
        // Under each word its probability, not a log-probability that reads -0.000.
        XCTAssertEqual(Painter(doc).labels[1].detail, "p " + formatted(Foundation.exp(doc.logprobs![1])))
        // The settings' line, then ten cells (the image and nine words): 8 on the first row, 2 on the
        // second; thumbnails 160×100.
        XCTAssertEqual(sheet.width, 8 + 8 * (160 + 8))
        XCTAssertEqual(sheet.height, 8 + 12 + 8 + 2 * (100 + 2 * 12 + 4 + 8))
    }

    /// A photo's report stays small: it and its attention maps go in as JPEG at most 640 pixels on a
    /// side (a 2000×1500 photo's sixteen full-size PNG overlays made a report of tens of MB), while
    /// overlays/ keeps them as PNG at the photo's size.
    func testReportOfALargePhotoStaysSmall() throws {
        var state: UInt32 = 1
        var pixels = [UInt8](repeating: 0, count: 2000 * 1500 * 3)
        for y in 0..<1500 {
            for x in 0..<2000 {
                state = state &* 1_664_525 &+ 1_013_904_223
                let i = (y * 2000 + x) * 3, noise = Int(state >> 28)
                let disc = (x - 1000) * (x - 1000) + (y - 750) * (y - 750) < 400 * 400
                pixels[i] = UInt8(min(255, x * 200 / 2000 + noise))
                pixels[i + 1] = UInt8(min(255, (disc ? 180 : 40) + y * 60 / 1500 + noise))
                pixels[i + 2] = UInt8(min(255, ((x / 100 + y / 100) % 2 == 0 ? 160 : 60) + noise))
            }
        }
        var doc = captionDocument(labels: (0..<16).map { "w\($0)" }, image: RGBImage(width: 2000, height: 1500, pixels: pixels))
        // An attention captioner's: each word's attention over the photo too (sixteen PNGs of it were 6 MB).
        doc.attention = Tensor(shape: [16, 4, 4], values: (0..<256).map { Float(($0 * 37) % 16) / 16 })
        let out = dir + "/photo"
        try writeExport(doc, to: out)
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertLessThan(report.utf8.count, 2_000_000)
        XCTAssertTrue(report.contains("data:image/jpeg;base64,") && report.contains("width=\"640\" height=\"480\""))
        XCTAssertTrue(report.contains("<img id=\"attention-15\" hidden src=\"data:image/jpeg;base64,"))
        let overlay = try RGBImage(contentsOf: out + "/overlays/00-w0.png")
        XCTAssertEqual([overlay.width, overlay.height], [2000, 1500])
    }

    func testEmptyCaption() throws {
        let out = dir + "/empty"
        try writeExport(captionDocument(labels: []), to: out)
        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual((m["tokens"] as? [Any])?.count, 0)
        XCTAssertEqual(m["text"] as? String, "")
        XCTAssertEqual(try NPY.read(out + "/raw.npy").shape, [0, 4, 4])
        XCTAssertEqual(try NPY.read(out + "/cams.npy").shape, [0, 32, 32])
        XCTAssertEqual(listing(out + "/overlays"), [])
        XCTAssertNoThrow(try RGBImage(contentsOf: out + "/sheet.png"))
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("empty caption: nothing to explain"))
    }

    func testGuidedBackpropHasNoLayerMaps() throws {
        let out = dir + "/guided"
        let doc = captionDocument(labels: ["red", "blue"], method: .guidedBackprop)
        try writeExport(doc, to: out)
        XCTAssertEqual(listing(out), ["guided.npy", "manifest.json", "overlays", "report.html", "sheet.png"])
        let guided = try NPY.read(out + "/guided.npy")
        XCTAssertEqual(guided.shape, [2, 3, 32, 32])
        XCTAssertEqual(guided.values, doc.explanation.guided?.values)
        let m = try readJSON(out + "/manifest.json")
        XCTAssertNil(m["raw"])
        XCTAssertNil(m["cams"])
        XCTAssertNil(m["layer_size"])
        let record = try XCTUnwrap((m["tokens"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(record.keys), ["index", "token", "id", "logprob", "score", "overlay"])

        // The overlay is the guided gradient as the paper shows it (centred, std 0.1 around grey,
        // clipped), at the image's size — not a heat map; a confident word's tiny gradient too.
        let g = try XCTUnwrap(doc.explanation.guided?.values)
        let first = Array(g[0..<(3 * 1024)])
        let mean = first.reduce(0, +) / 3072
        let std = (first.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3072).squareRoot()
        let picture = gradientImage(first[...], width: 32, height: 32)
        for (i, c) in [(5, 0), (700, 2)] {
            let want = UInt8((min(max((first[c * 1024 + i] - mean) / std * 0.1 + 0.5, 0), 1) * 255).rounded())
            XCTAssertEqual(picture.pixels[3 * i + c], want)
        }
        let tiny = gradientImage(first.map { $0 * 1e-8 }[...], width: 32, height: 32)
        XCTAssertLessThanOrEqual(zip(tiny.pixels, picture.pixels).map { abs(Int($0) - Int($1)) }.max()!, 1,
                                 "a gradient 1e-8 times smaller draws the same picture")
        let overlay = try RGBImage(contentsOf: out + "/overlays/" + (record["overlay"] as! String).dropFirst("overlays/".count))
        XCTAssertEqual(overlay, picture.resized(width: doc.image.width, height: doc.image.height))
    }

    func testGuidedGradcamWritesAllArrays() throws {
        let out = dir + "/gg"
        let doc = captionDocument(labels: ["red"], method: .guidedGradcam)
        try writeExport(doc, to: out)
        XCTAssertEqual(listing(out), ["cams.npy", "guided.npy", "manifest.json", "overlays", "raw.npy", "report.html", "sheet.png"])
        // What is drawn is Guided Grad-CAM (guided.npy), not the Grad-CAM factor of cams.npy, and the
        // sheet says which method it shows.
        let overlay = try RGBImage(contentsOf: out + "/overlays/00-red.png")
        let guided = try XCTUnwrap(doc.explanation.guided?.values)
        XCTAssertEqual(overlay, gradientImage(guided[...], width: 32, height: 32).resized(width: doc.image.width, height: doc.image.height))
        XCTAssertNotEqual(overlay, Painter(doc).overlay(.heat(Array(doc.explanation.cams!.values))))
        XCTAssertTrue(Painter(doc).settings.hasPrefix("guided-gradcam at "), Painter(doc).settings)
    }

    func testVQAManifest() throws {
        let out = dir + "/vqa"
        var doc = captionDocument(labels: ["red", "blue"])
        doc.task = .vqa
        doc.score = .logit
        doc.text = "what colour is the blorp"
        doc.logprobs = nil
        doc.beam = nil
        doc.probabilities = [0.875, 0.0625]
        doc.question = .init(text: "what colour is the blorp", tokens: [
            .init(token: "what", id: 4, unknown: false), .init(token: "<unk>", id: 1, unknown: true),
        ])
        XCTAssertEqual(Painter(doc).header, "gradcam at backbone.features.12, score logit\nquestion: what colour is the blorp")
        try writeExport(doc, to: out)
        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual(m["task"] as? String, "vqa")
        XCTAssertEqual(m["score"] as? String, "logit")
        XCTAssertNil(m["beam"])
        XCTAssertEqual(m["question"] as? NSDictionary, [
            "text": "what colour is the blorp",
            "tokens": [["token": "what", "id": 4, "unk": false], ["token": "<unk>", "id": 1, "unk": true]],
        ])
        let records = try XCTUnwrap(m["tokens"] as? [[String: Any]])
        XCTAssertEqual(records.map { $0["probability"] as? Double }, [0.875, 0.0625])
        XCTAssertTrue(records.allSatisfy { $0["logprob"] == nil })
    }

    func testFormatsChooseTheFiles() throws {
        var doc = captionDocument(labels: ["red"])
        doc.formats = [.npy]
        try writeExport(doc, to: dir + "/npy")
        XCTAssertEqual(listing(dir + "/npy"), ["cams.npy", "manifest.json", "raw.npy"])
        XCTAssertNil((try readJSON(dir + "/npy/manifest.json")["tokens"] as? [[String: Any]])?.first?["overlay"])

        doc.formats = [.html]
        try writeExport(doc, to: dir + "/html")
        XCTAssertEqual(listing(dir + "/html"), ["manifest.json", "report.html"])
        XCTAssertNil(try readJSON(dir + "/html/manifest.json")["raw"])
    }

    func testNonFiniteScoresAreNull() throws {
        var doc = captionDocument(labels: ["red"])
        doc.logprobs = [-.infinity]
        let text = try manifestJSON(doc)
        XCTAssertTrue(text.contains("\"logprob\": null"), text)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    func testOverlayNamesArePaddedAndSafe() {
        let labels = ["größe", "<b>&\"", "x y", "", "a-b_C9"] + (5..<101).map { "w\($0)" }
        let names = overlayNames(captionDocument(labels: labels))
        XCTAssertEqual(Array(names.prefix(5)), ["000-gr__e.png", "001-_b___.png", "002-x_y.png", "003-.png", "004-a-b_C9.png"])
        XCTAssertEqual(names.last, "100-w100.png")
        XCTAssertEqual(overlayNames(captionDocument(labels: (0..<100).map { "w\($0)" })).last, "99-w99.png")
    }

    func testUserTextIsEscapedInTheReportAndJSON() throws {
        let out = dir + "/it's \"odd\" <dir> ünï 名前"
        var doc = captionDocument(labels: ["<b>&\"", "größe", "it's"])
        doc.imagePath = "a \"b\" <c>.png"
        doc.text = "<script>alert(1)</script>\n\t\u{1}"
        try writeExport(doc, to: out)
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertFalse(html.contains("<script>alert"))
        XCTAssertFalse(html.contains("<b>&"))
        XCTAssertTrue(html.contains(">&lt;b&gt;&amp;&quot;</button>"))
        XCTAssertTrue(html.contains("a &quot;b&quot; &lt;c&gt;.png"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no external resources")
        let m = try readJSON(out + "/manifest.json")
        XCTAssertEqual(m["text"] as? String, doc.text)
        XCTAssertEqual((m["image"] as? [String: Any])?["path"] as? String, "a \"b\" <c>.png")
        XCTAssertEqual(listing(out + "/overlays"), ["00-_b___.png", "01-gr__e.png", "02-it_s.png"])
    }

    func testExistingOutputIsRefusedWithoutForceAndReplacedWithIt() throws {
        let out = dir + "/out"
        try writeExport(captionDocument(labels: ["red"]), to: out)
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["blue", "green"]), to: out)) { error in
            XCTAssertEqual(error as? OutputError, .exists(path: out, remedy: "pass --force to replace it, or choose another output directory"))
            XCTAssertTrue("\(error)".contains("--force"))
        }
        XCTAssertEqual(listing(out + "/overlays"), ["00-red.png"], "untouched")

        try writeExport(captionDocument(labels: ["blue", "green"]), to: out + "/", force: true)
        XCTAssertEqual(listing(out + "/overlays"), ["00-blue.png", "01-green.png"])
        XCTAssertEqual(listing(dir), ["out"], "the old export and the temporary directory are gone")
    }

    /// A failure halfway (here an overlay name longer than the file system
    /// allows) removes the temporary directory and leaves the old export.
    func testFailureMidwayLeavesTheOldExport() throws {
        let out = dir + "/out"
        try writeExport(captionDocument(labels: ["red"]), to: out)
        let long = String(repeating: "x", count: 300)
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["blue", long]), to: out, force: true)) { error in
            XCTAssertTrue("\(error)".contains("/overlays/01-xxx") && "\(error)".hasSuffix(": File name too long"), "\(error)")
        }
        XCTAssertEqual(listing(dir), ["out"])
        XCTAssertEqual(listing(out + "/overlays"), ["00-red.png"])
    }

    func testForceReplacesOnlyExportsEmptyDirectoriesAndLinks() throws {
        let precious = dir + "/precious"
        try FileManager.default.createDirectory(atPath: precious, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: precious + "/thesis.tex"))
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: precious, force: true)) { error in
            XCTAssertEqual(error as? OutputError, .notReplaceable(path: precious, kind: "gradcam export", marker: "manifest.json"))
        }
        XCTAssertEqual(listing(precious), ["thesis.tex"])

        let file = dir + "/scene.jpg"
        try Data("jpeg".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: file, force: true))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "jpeg")

        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        try writeExport(captionDocument(labels: ["red"]), to: empty, force: true)
        XCTAssertTrue(listing(empty).contains("manifest.json"))
        XCTAssertEqual(listing(dir), ["empty", "precious", "scene.jpg"])
    }

    func testSymlinkAtOutputIsReplacedNeverWrittenThrough() throws {
        let target = dir + "/target", link = dir + "/link"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: target + "/file"))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)

        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: link)) { error in
            XCTAssertEqual(error as? OutputError, .exists(path: link, remedy: "pass --force to replace it, or choose another output directory"))
        }
        try writeExport(captionDocument(labels: ["red"]), to: link, force: true)
        let attributes = try FileManager.default.attributesOfItem(atPath: link)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeDirectory, "the link became a directory")
        XCTAssertEqual(listing(target), ["file"], "the link's target is untouched")
        XCTAssertEqual(listing(dir), ["link", "target"])

        let dangling = dir + "/dangling"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/nowhere")
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: dangling))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nowhere"))
    }

    func testSymlinkInParentPathIsFollowed() throws {
        let real = dir + "/real", link = dir + "/via link"
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        try writeExport(captionDocument(labels: ["red"]), to: link + "/out")
        XCTAssertEqual(listing(real), ["out"])
        XCTAssertTrue(listing(real + "/out").contains("manifest.json"))
    }

    func testUnusableParentIsAClearErrorAndLeavesNothing() throws {
        let file = dir + "/file"
        try Data().write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: file + "/out")) { error in
            XCTAssertEqual("\(error)", "cannot write \"\(file)/out\": \"\(file)\" is not a directory")
        }
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: dir + "/missing/out")) { error in
            XCTAssertEqual("\(error)", "cannot write \"\(dir)/missing/out\": the directory \"\(dir)/missing\" does not exist")
        }
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: "")) { error in
            XCTAssertEqual(error as? OutputError, .invalidOutput(path: "", reason: "the output must name a new directory"))
        }
        // A name too long for the temporary directory fails when it is created.
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: dir + "/" + String(repeating: "x", count: 250))) {
            XCTAssertTrue("\($0)".contains("cannot create a directory in"), "\($0)")
        }
        XCTAssertEqual(listing(dir), ["file"])
    }

    func testReadOnlyParentNamesIt() throws {
        // sysfs refuses new directories even to root, whom file modes do not stop.
        guard FileManager.default.fileExists(atPath: "/sys/kernel") else {
            print("skipped: no /sys to stand for a read-only directory")
            throw XCTSkip("no /sys")
        }
        XCTAssertThrowsError(try writeExport(captionDocument(labels: ["red"]), to: "/sys/gradcam-export-test")) { error in
            XCTAssertEqual("\(error)", "cannot write \"/sys/gradcam-export-test\": cannot create a directory in \"/sys\": Operation not permitted")
        }
    }

    func testInvalidDocumentsFailBeforeWriting() throws {
        var doc = captionDocument(labels: ["red", "blue"])
        doc.logprobs = [-1]
        XCTAssertThrowsError(try writeExport(doc, to: dir + "/out")) { error in
            XCTAssertEqual(error as? ExportError, .invalidDocument("1 log-probabilities for 2 entries"))
        }
        doc = captionDocument(labels: ["red"])
        doc.alpha = 2
        XCTAssertThrowsError(try writeExport(doc, to: dir + "/out"))
        doc = captionDocument(labels: ["red"])
        doc.explanation = syntheticExplanation(labels: ["red", "blue"])
        doc.logprobs = [-1, -2]
        doc.image = rampImage()
        XCTAssertNoThrow(try manifestJSON(doc))
        doc.explanation = Explanation(method: .gradcam, layer: "x", inputSize: (32, 32), layerSize: (4, 4),
                                      raw: doc.explanation.raw, cams: nil, guided: nil, entries: doc.explanation.entries)
        XCTAssertThrowsError(try writeExport(doc, to: dir + "/out"))
        XCTAssertEqual(listing(dir), [])
    }
}
