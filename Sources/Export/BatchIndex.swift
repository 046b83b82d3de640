import AtomicOutput
import Foundation

/// OUT/index.jsonl and OUT/index.html for a batch export: every complete item
/// in OUT (every shard's, so the last shard to finish leaves the whole index),
/// one line or row each, read from its manifest — the image, the caption,
/// question or top answer or class, its probability (a caption's log p), and
/// the item's report. Each file is replaced atomically.
///
/// Opened with `#selftest`, index.html checks itself in the browser (as
/// report.html does): one row per item, each with its report's link and a
/// thumbnail that decoded, the verdict written into `<pre id=selftest>`.
public func writeBatchIndex(_ out: String) throws {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    var lines: [String] = [], rows: [String] = []
    for name in names {
        guard let data = FileManager.default.contents(atPath: out + "/" + name + "/manifest.json"),
              let manifest = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
        let tokens = manifest["tokens"] as? [[String: Any]] ?? []
        let task = manifest["task"] as? String ?? ""
        var record: [String: Any] = ["item": name, "report": name + "/report.html", "task": task,
                                     "image": (manifest["image"] as? [String: Any])?["path"] as? String ?? ""]
        if let text = manifest["text"] as? String { record["text"] = text }
        if let question = (manifest["question"] as? [String: Any])?["text"] as? String { record["question"] = question }
        if let label = tokens.first?["token"] as? String, task != "captioning" { record["top"] = label }
        if let p = tokens.first?["probability"] as? Double { record["probability"] = p }
        if task == "captioning" { record["logprob"] = tokens.compactMap { $0["logprob"] as? Double }.reduce(0, +) }
        let line = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes])
        lines.append(String(decoding: line, as: UTF8.self))

        let link = escapeHTML(urlPath(name + "/report.html"))
        let thumbnail = (tokens.first?["overlay"] as? String).map { "<img src=\"\(escapeHTML(urlPath(name + "/" + $0)))\" width=\"160\" alt=\"\">" } ?? ""
        let what = (record["question"] as? String).map { "Q: \($0) → \(record["top"] as? String ?? "")" }
            ?? (record["text"] as? String) ?? (record["top"] as? String ?? "")
        let odds = (record["probability"] as? Double).map { String(format: "p %.3f", $0) }
            ?? (record["logprob"] as? Double).map { String(format: "log p %.3f", $0) } ?? ""
        rows.append("<tr class=\"item\"><td><a href=\"\(link)\">\(thumbnail)</a></td><td><a href=\"\(link)\">\(escapeHTML(name))</a></td>"
                    + "<td>\(escapeHTML(what))</td><td>\(odds)</td></tr>")
    }
    let html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>gradcam export: \(rows.count) items</title>
        <style>body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; } td { padding: 4px 12px; vertical-align: middle; }
        tr:nth-child(even) { background: #f4f4f4; } img { border: 1px solid #ccc; }
        td:nth-child(2), td:nth-child(4) { white-space: nowrap; }</style></head>
        <body data-items="\(rows.count)"><h1>gradcam export: \(rows.count) items</h1>
        <table><tr><th>map</th><th>item</th><th>caption, answer or class</th><th>probability</th></tr>
        \(rows.joined(separator: "\n"))
        </table>
        <pre id="selftest" hidden></pre>
        <script>\(indexSelftest)</script>
        </body></html>

        """
    for (file, text) in [("index.jsonl", lines.map { $0 + "\n" }.joined()), ("index.html", html)] {
        try Array(text.utf8).withUnsafeBytes { try OutputPath(out + "/" + file, replacing: .file).writeFile($0) }
    }
}

/// A relative path as a URL path: "#", "?", "%" and spaces in an item's name
/// would otherwise end or change the link.
private func urlPath(_ path: String) -> String {
    path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
}

/// index.html's self-test (`#selftest`), run once every image has loaded or failed.
private let indexSelftest = """
    if (location.hash === "#selftest") window.addEventListener("load", function () {
      var out = document.getElementById("selftest");
      try {
        var rows = document.querySelectorAll("tr.item"), expected = Number(document.body.dataset.items);
        if (rows.length !== expected) throw new Error(rows.length + " rows for " + expected + " items");
        rows.forEach(function (row, i) {
          var link = row.querySelector("a");
          if (!link || !/\\/report\\.html$/.test(link.getAttribute("href"))) throw new Error("row " + i + ": no link to its report");
          row.querySelectorAll("img").forEach(function (img) {
            if (!img.complete || img.naturalWidth === 0) throw new Error("row " + i + ": thumbnail " + img.getAttribute("src") + " did not load");
          });
        });
        out.textContent = "SELFTEST PASS " + rows.length;
      } catch (e) {
        out.textContent = "SELFTEST FAIL " + e.message;
      }
      out.hidden = false;
    });
    """
