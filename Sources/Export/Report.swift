import Explain
import Foundation

/// `report.html`: one self-contained page. The pictures (`ReportPictures`)
/// are inlined as base64 data URIs and a Content-Security-Policy forbids
/// every other source, so the page works offline, from an e-mail or a CI
/// artifact.
///
/// Each entry is a `<button>` (focusable, so the page works from the
/// keyboard); clicking, hovering or focusing it shows its map over the image
/// (one hidden `<figure>` per entry, at the opacity of the slider) and its
/// values; a grid shows every entry at once. Images in the document delay the
/// `load` event, so when it fires every map has decoded: opening the page
/// with `#selftest` then clicks every button, checks that exactly its map is
/// visible, decoded at its declared size, that its score is shown and that
/// the grid has a cell per entry, and writes `SELFTEST PASS n` or `SELFTEST
/// FAIL reason` into `<pre id=selftest>`, all synchronously. Script errors,
/// rejected promises, `console.error`, failed images and blocked resources
/// make it fail. The browser test reads that line; a person never sees it.
func reportHTML(_ doc: ExportDocument, pictures: ReportPictures) -> String {
    let e = doc.explanation
    let title = "gradcam: " + (doc.text.flatMap { $0.isEmpty ? nil : $0 } ?? doc.task.rawValue)
    var html = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
    <title>\(escapeHTML(title))</title>
    <script>\(selftest)</script>
    <style>\(style)</style>
    </head>
    <body>
    <h1>Grad-CAM explanation: \(escapeHTML(doc.task.rawValue))</h1>

    """
    if let question = doc.question {
        let words = question.tokens.map { token in
            token.unknown
                ? "<span class=\"unk\" title=\"not in the vocabulary: read as &lt;unk&gt;\">\(escapeHTML(token.token))</span>"
                : escapeHTML(token.token)
        }
        html += "<p class=\"question\">question: \(escapeHTML(question.text))"
        html += question.tokens.isEmpty ? "</p>\n" : " <span class=\"tokens\">(read as: \(words.joined(separator: " ")))</span></p>\n"
    }
    let noun: String
    switch doc.task {
    case .captioning: noun = "caption"
    case .vqa: noun = "answers"
    case .classification: noun = "classes"
    }
    if e.entries.isEmpty {
        let what = doc.task == .captioning ? "empty caption" : "no \(noun)"
        html += "<p class=\"empty\">\(what): nothing to explain</p>\n"
    } else {
        html += "<p class=\"sequence\" role=\"group\" aria-label=\"\(noun)\">\(noun):\n"
        for (k, entry) in e.entries.enumerated() {
            html += tokenButton(doc, k, entry) + "\n"
        }
        let faint = doc.score.faint(logProbs: doc.logprobs).enumerated().filter(\.element).map { e.entries[$0.offset].label }
        if !faint.isEmpty {
            html += "</p>\n<p class=\"note\">\(escapeHTML(faint.joined(separator: ", "))): \(escapeHTML(ScoreKind.faintNote))"
        }
        let image = pictures.image, layer = pictures.layerSize
        let ratio = "aspect-ratio: \(image.width) / \(image.height)"
        func png(_ bytes: [UInt8], _ type: String = "png") -> String { "data:image/\(type);base64," + Data(bytes).base64EncodedString() }
        html += "</p>\n<div class=\"view\">\n"
        let original = "data:image/\(image.type);base64," + Data(image.bytes).base64EncodedString()
        html += "<figure class=\"panel\"><div class=\"stage\" style=\"\(ratio)\"><img src=\"\(original)\" width=\"\(image.width)\" "
            + "height=\"\(image.height)\" alt=\"the image\"></div><figcaption>image</figcaption></figure>\n"
        html += "<figure class=\"panel\"><div class=\"stage\" style=\"\(ratio)\"><img id=\"original\" src=\"\(original)\" "
            + "width=\"\(image.width)\" height=\"\(image.height)\" alt=\"the image\">\n"
            + "<div class=\"maps\" id=\"maps\"\(pictures.heat ? " style=\"opacity: \(doc.alpha)\"" : "")>\n"
        for (k, entry) in e.entries.enumerated() {
            html += "<figure id=\"map-\(k)\" hidden><img src=\"\(png(pictures.layers[k]))\" width=\"\(layer.width)\" "
                + "height=\"\(layer.height)\" alt=\"map for \(escapeHTML(entry.label))\"></figure>\n"
        }
        html += "</div></div><figcaption>\(escapeHTML(e.method == .guidedGradcam ? "grad-cam" : e.method.rawValue))</figcaption></figure>\n"
        // Panels beside the map, each showing the selected token's picture.
        let glimpses = pictures.attention.count
        let attentionPanels = pictures.attention.enumerated().map { g, shown in
            glimpses == 1 ? ("attention", shown, pictures.attentionType, (image.width, image.height), "attention before",
                             "attention (where the decoder looked)")
                : ("glimpse\(g + 1)", shown, pictures.attentionType, (image.width, image.height), "glimpse \(g + 1) for",
                   "glimpse \(g + 1) of \(glimpses) (where the model looked)")
        }
        for (id, shown, type, size, alt, caption) in [
            ("guided", pictures.guided, "png", (layer.width, layer.height), "guided grad-cam for", "guided grad-cam"),
        ] + attentionPanels where !shown.isEmpty {
            html += "<figure class=\"panel\"><div class=\"stage guided\" style=\"\(ratio)\">\n"
            for (k, entry) in e.entries.enumerated() {
                html += "<img id=\"\(id)-\(k)\" hidden src=\"\(png(shown[k], type))\" width=\"\(size.0)\" "
                    + "height=\"\(size.1)\" alt=\"\(alt) \(escapeHTML(entry.label))\">\n"
            }
            html += "</div><figcaption>\(caption)</figcaption></figure>\n"
        }
        html += """
        <dl>
        <dt>token</dt><dd id="f-token"></dd>
        <dt>score (\(escapeHTML(doc.score.rawValue)))</dt><dd id="f-score"></dd>

        """
        if doc.logprobs != nil || doc.probabilities != nil {
            html += "<dt>\(doc.logprobs != nil ? "log-probability" : "probability")</dt><dd id=\"f-extra\"></dd>\n"
        }
        if e.method.hasLayerMap {
            html += "<dt>map maximum</dt><dd id=\"f-cammax\"></dd>\n"
            html += "<dt>peak [row, column] at the layer</dt><dd id=\"f-peak\"></dd>\n"
        }
        html += "</dl>\n</div>\n"
        if pictures.heat {
            html += "<p class=\"controls\"><label>opacity <input type=\"range\" id=\"opacity\" min=\"0\" max=\"1\" step=\"0.05\" "
                + "value=\"\(doc.alpha)\"></label> <span class=\"bar\">0 <img src=\"\(png(pictures.colorbar))\" width=\"256\" "
                + "height=\"1\" alt=\"colour bar: low to high\"> 1 (\(escapeHTML(doc.colormap.rawValue)), the map's scale)</span></p>\n"
        }
        let item = doc.task == .captioning ? "word" : doc.task == .vqa ? "answer" : "class"
        html += "<h2>Every \(item)</h2>\n<div class=\"grid\" id=\"grid\" style=\"--ratio: \(image.width) / \(image.height)\"></div>\n"
        if probability(doc, 0) != nil {
            html += "<h2>Probabilities</h2>\n<table class=\"odds\">\n<tr><th>\(item)</th><th>probability</th>"
                + (doc.logprobs != nil ? "<th>log-probability</th>" : "") + "<th>score (\(escapeHTML(doc.score.rawValue)))</th></tr>\n"
            for (k, entry) in e.entries.enumerated() {
                html += "<tr><td>\(escapeHTML(entry.label))</td><td>\(formatted(probability(doc, k)!))</td>"
                    + (doc.logprobs.map { "<td>\(formatted($0[k]))</td>" } ?? "") + "<td>\(formatted(entry.score))</td></tr>\n"
            }
            html += "</table>\n"
        }
    }
    html += "<h2>Settings</h2>\n<table>\n"
    for (name, value) in settings(doc) {
        html += "<tr><th scope=\"row\">\(escapeHTML(name))</th><td>\(escapeHTML(value))</td></tr>\n"
    }
    html += "</table>\n<pre id=\"selftest\" hidden></pre>\n<script>\(viewer)</script>\n</body>\n</html>\n"
    return html
}

/// The button of entry `k`; its `data-` attributes hold the values the page shows.
private func tokenButton(_ doc: ExportDocument, _ k: Int, _ entry: Explanation.Entry) -> String {
    var data: [(String, String)] = [("token", entry.label), ("score", formatted(entry.score))]
    if let logprobs = doc.logprobs { data.append(("extra", formatted(logprobs[k]))) }
    if let probabilities = doc.probabilities { data.append(("extra", formatted(probabilities[k]))) }
    if let p = probability(doc, k) { data.append(("p", formatted(p))) }
    if doc.explanation.method.hasLayerMap {
        data.append(("cammax", formatted(entry.camMax)))
        data.append(("peak", "[" + entry.peak.map(String.init).joined(separator: ", ") + "]"))
    }
    let attributes = data.map { " data-\($0)=\"\(escapeHTML($1))\"" }.joined()
    return "<button type=\"button\" class=\"token\" aria-pressed=\"false\" aria-controls=\"map-\(k)\"\(attributes)>"
        + escapeHTML(entry.label) + "</button>"
}

/// Entry k's probability: its answer's or class's, or its word's exp(log p).
private func probability(_ doc: ExportDocument, _ k: Int) -> Float? {
    doc.probabilities?[k] ?? doc.logprobs.map { Foundation.exp($0[k]) }
}

/// The settings table's rows: what was explained and how.
private func settings(_ doc: ExportDocument) -> [(String, String)] {
    let e = doc.explanation
    let smoothing = [e.augSmooth ? "aug-smooth" : nil, e.eigenSmooth ? "eigen-smooth" : nil].compactMap { $0 }
    var rows: [(String, String)] = [
        ("image", "\(doc.imagePath) (\(doc.image.width)×\(doc.image.height))"),
        ("model", doc.modelPath),
        ("weights sha256", doc.weightsSHA256),
        ("method", e.method.rawValue),
        ("layer", e.layer),
        ("score", doc.score.rawValue),
        ("counterfactual", doc.counterfactual ? "yes" : "no"),
        ("normalize", doc.normalize.rawValue),
        ("smoothing", smoothing.isEmpty ? "none" : smoothing.joined(separator: ", ")),
        ("input size (w×h)", "\(e.inputSize.width)×\(e.inputSize.height)"),
    ]
    if e.method.hasLayerMap, let size = e.layerSize {
        rows.append(("layer size (w×h)", "\(size.width)×\(size.height)"))
    }
    rows.append(("colormap, alpha", "\(doc.colormap.rawValue), \(doc.alpha)"))
    if let beam = doc.beam {
        rows.append(("beam", "hypothesis \(beam.rank) of beam \(beam.size), log-probability \(formatted(beam.logprob))"))
    }
    return rows + doc.reportSettings.map { ($0.name, $0.value) }
}

/// Text for HTML content and double-quoted attributes.
func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

private let style = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #222; }
button.token { font: inherit; margin: 0.1em; padding: 0.1em 0.5em; border: 1px solid #999; border-radius: 4px; background: #f4f4f4; cursor: pointer; }
button.token[aria-pressed="true"] { background: #222; color: #fff; border-color: #222; }
button.token:focus-visible { outline: 3px solid #e80; outline-offset: 1px; }
.view { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; margin: 1em 0; }
.panel { margin: 0; width: min(100%, 22em); } .panel figcaption, .grid span { color: #666; font-size: 0.9em; }
.stage { position: relative; width: 100%; border: 1px solid #ccc; }
.stage img, .maps, .maps figure { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; }
.controls img { width: 256px; height: 12px; vertical-align: middle; border: 1px solid #ccc; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(9em, 1fr)); gap: 0.8em; }
.grid button { font: inherit; background: none; border: 2px solid transparent; padding: 0; text-align: left; cursor: pointer; }
.grid button[aria-pressed="true"] { border-color: #222; }
.grid .cell { position: relative; aspect-ratio: var(--ratio); } .grid .cell img { position: absolute; inset: 0; width: 100%; height: 100%; }
dl { display: grid; grid-template-columns: auto auto; gap: 0.2em 1em; margin: 0; }
dt { color: #666; } dd { margin: 0; font-variant-numeric: tabular-nums; }
.unk { text-decoration: underline dotted; color: #a00; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 0.2em 1em 0.2em 0; vertical-align: top; }
th { color: #666; font-weight: normal; } td { word-break: break-all; }
"""

/// Installed first, in <head>, so errors anywhere later are recorded; the
/// self-test runs on `load`, after the viewer's script whether it ran or not.
private let selftest = """
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) { errors.push("error: " + (e.message || (e.target && e.target.tagName + " failed to load"))); }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) { errors.push("blocked " + e.blockedURI + " by " + e.violatedDirective); });
  var consoleError = console.error;
  console.error = function () { errors.push("console.error: " + Array.prototype.join.call(arguments, " ")); consoleError.apply(console, arguments); };

  function run() {
    var out = document.getElementById("selftest");
    var buttons = Array.prototype.slice.call(document.querySelectorAll("button.token"));
    var figures = Array.prototype.slice.call(document.querySelectorAll(".maps figure"));
    var problems = [];
    buttons.forEach(function (b, i) {
      b.click();
      var where = "token " + i + " (" + b.dataset.token + "): ";
      var figure = document.getElementById(b.getAttribute("aria-controls"));
      var img = figure && figure.querySelector("img");
      var shown = figures.filter(function (f) { return !f.hidden; });
      if (!img || shown.length !== 1 || shown[0] !== figure || img.offsetWidth === 0) {
        problems.push(where + "its map is not the one shown");
      } else if (!img.complete || String(img.naturalWidth) !== img.getAttribute("width") ||
                 String(img.naturalHeight) !== img.getAttribute("height")) {
        problems.push(where + "its map is " + img.naturalWidth + "x" + img.naturalHeight + ", not its declared size");
      }
      if (document.getElementById("f-score").textContent !== b.dataset.score) problems.push(where + "its score is not shown");
      if (b.getAttribute("aria-pressed") !== "true") problems.push(where + "it is not marked as selected");
    });
    var cells = document.querySelectorAll("#grid button").length;
    if (buttons.length && cells !== buttons.length) problems.push("the grid has " + cells + " cells for " + buttons.length + " tokens");
    problems = problems.concat(errors);
    out.textContent = problems.length ? "SELFTEST FAIL " + problems.join("; ") : "SELFTEST PASS " + buttons.length;
    out.hidden = false;
  }
  if (location.hash === "#selftest") window.addEventListener("load", run);
})();
"""

private let viewer = """
(function () {
  "use strict";
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.token"));
  var fields = ["token", "score", "extra", "cammax", "peak"];
  var grid = document.getElementById("grid"), original = document.getElementById("original"), cells = [];
  function show(button) {
    buttons.forEach(function (b, i) {
      var selected = b === button;
      b.setAttribute("aria-pressed", selected ? "true" : "false");
      document.getElementById(b.getAttribute("aria-controls")).hidden = !selected;
      // The panels beside the map (guided grad-cam, attention, glimpses) hold one picture per token.
      Array.prototype.slice.call(document.querySelectorAll(".stage.guided")).forEach(function (panel) {
        var beside = panel.children[i];
        if (beside) beside.hidden = !selected;
      });
      if (cells[i]) cells[i].setAttribute("aria-pressed", selected ? "true" : "false");
    });
    fields.forEach(function (name) {
      var field = document.getElementById("f-" + name);
      if (field) field.textContent = button.dataset[name] || "";
    });
  }
  buttons.forEach(function (b, i) {
    b.addEventListener("click", function () { show(b); });
    b.addEventListener("mouseenter", function () { show(b); });
    b.addEventListener("focus", function () { show(b); });
    b.addEventListener("keydown", function (e) {
      var next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : -1;
      if (next >= 0 && next < buttons.length) { buttons[next].focus(); e.preventDefault(); }
    });
  });
  // Every token at once: the image with its map, the same pictures again.
  buttons.forEach(function (b, i) {
    var cell = document.createElement("button"), frame = document.createElement("div"), label = document.createElement("span");
    cell.type = "button";
    frame.className = "cell";
    var picture = original.cloneNode();
    picture.removeAttribute("id");
    frame.appendChild(picture);
    var map = document.getElementById(b.getAttribute("aria-controls")).querySelector("img").cloneNode();
    if (document.getElementById("maps").style.opacity) map.className = "heat";
    frame.appendChild(map);
    label.textContent = b.dataset.token + (b.dataset.p ? "  p " + b.dataset.p : "");
    cell.appendChild(frame);
    cell.appendChild(label);
    cell.addEventListener("click", function () { show(b); b.focus(); });
    grid.appendChild(cell);
    cells.push(cell);
  });
  var opacity = document.getElementById("opacity");
  function blend() {
    document.getElementById("maps").style.opacity = opacity.value;
    grid.querySelectorAll("img.heat").forEach(function (img) { img.style.opacity = opacity.value; });
  }
  if (opacity) { opacity.addEventListener("input", blend); blend(); }
  if (buttons.length) show(buttons[0]);
})();
"""
