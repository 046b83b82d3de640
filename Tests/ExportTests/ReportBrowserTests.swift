import Export
import Foundation
import XCTest

/// report.html in a real browser: headless Chromium opens the page with
/// `#selftest`, the page clicks every token and checks its map and score
/// (see `reportHTML`), and the test reads the verdict from the dumped DOM.
/// Chromium's own log must show no console message at all: the page logs
/// nothing, so any line is an error, a warning or a blocked resource.
/// Skipped when no Chromium is installed (`.ci/run` installs Debian's).
final class ReportBrowserTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testEveryTokenShowsItsMap() throws {
        let out = dir + "/it's \"odd\" <ünï> 名前"
        try writeExport(captionDocument(labels: ["red", "<b>&\"", "größe", "red"]), to: out)
        let page = try open(out + "/report.html")
        XCTAssertEqual(verdict(page.dom), "SELFTEST PASS 4")
        XCTAssertEqual(page.console, [])
    }

    func testGuidedBackpropReport() throws {
        try writeExport(captionDocument(labels: ["red", "blue"], method: .guidedBackprop), to: dir + "/guided")
        let page = try open(dir + "/guided/report.html")
        XCTAssertEqual(verdict(page.dom), "SELFTEST PASS 2")
        XCTAssertEqual(page.console, [])
    }

    func testEmptyCaptionReport() throws {
        try writeExport(captionDocument(labels: []), to: dir + "/empty")
        let page = try open(dir + "/empty/report.html")
        XCTAssertTrue(page.dom.contains("empty caption: nothing to explain"))
        XCTAssertEqual(verdict(page.dom), "SELFTEST PASS 0")
        XCTAssertEqual(page.console, [])
    }

    /// A script error must fail both checks (the checks themselves are checked).
    func testScriptErrorsFailTheSelftest() throws {
        try writeExport(captionDocument(labels: ["red"]), to: dir + "/broken")
        let path = dir + "/broken/report.html"
        let html = try String(contentsOfFile: path, encoding: .utf8)
        try html.replacingOccurrences(of: "if (buttons.length) show(buttons[0]);", with: "undefinedFunction();")
            .write(toFile: path, atomically: false, encoding: .utf8)
        let page = try open(path)
        let result = verdict(page.dom)
        XCTAssertTrue(result.hasPrefix("SELFTEST FAIL") && result.contains("undefinedFunction"), result)
        XCTAssertTrue(page.console.contains { $0.contains("undefinedFunction") }, "\(page.console)")
    }

    /// A batch's index.html: a row per item whose thumbnail decodes and whose link is its report,
    /// item names with "#" and spaces included; a thumbnail that is gone fails it.
    func testBatchIndexShowsEveryItem() throws {
        let batch = dir + "/batch"
        try FileManager.default.createDirectory(atPath: batch, withIntermediateDirectories: false)
        for name in ["001-1a2b3c4d", "cats #2 ünï-5e6f7a8b"] {
            try writeExport(captionDocument(labels: ["red", "circle"]), to: batch + "/" + name)
        }
        try writeBatchIndex(batch)
        let page = try open(batch + "/index.html")
        XCTAssertEqual(verdict(page.dom), "SELFTEST PASS 2")
        XCTAssertEqual(page.console, [])

        try FileManager.default.removeItem(atPath: batch + "/cats #2 ünï-5e6f7a8b/overlays/00-red.png")
        let broken = verdict(try open(batch + "/index.html").dom)
        XCTAssertTrue(broken.hasPrefix("SELFTEST FAIL row 1: thumbnail cats%20%232"), broken)
    }

    private func verdict(_ dom: String) -> String {
        guard let element = dom.range(of: "<pre id=\"selftest\"")?.upperBound,
              let start = dom[element...].firstIndex(of: ">").map(dom.index(after:)),
              let end = dom[start...].range(of: "</pre>")?.lowerBound
        else { return "no selftest output in the DOM" }
        return String(dom[start..<end])
    }

    /// A map that does not decode fails the self-test.
    func testBrokenMapFailsTheSelftest() throws {
        try writeExport(captionDocument(labels: ["red", "blue"]), to: dir + "/broken")
        let path = dir + "/broken/report.html"
        let html = try String(contentsOfFile: path, encoding: .utf8)
        let png = "<figure id=\"map-0\" hidden><img src=\"data:image/png;base64,"
        let start = try XCTUnwrap(html.range(of: png)?.upperBound)
        try (html[..<start] + "AAAA" + html[html.index(start, offsetBy: 4)...])
            .write(toFile: path, atomically: false, encoding: .utf8)
        let result = verdict(try open(path).dom)
        XCTAssertTrue(result.hasPrefix("SELFTEST FAIL token 0 (red): its map is 0x0"), result)
    }

    /// The DOM after the page's scripts ran and Chromium's console log lines,
    /// or a skip when there is no browser.
    private func open(_ path: String) throws -> (dom: String, console: [String]) {
        guard let browser = ["chromium", "chromium-browser"].first(where: { findOnPath($0) != nil }) else {
            print("skipped: no chromium or chromium-browser on PATH, so report.html is not tested in a browser")
            throw XCTSkip("no chromium or chromium-browser on PATH")
        }
        let url = URL(fileURLWithPath: path).absoluteString + "#selftest"
        let result = try XCTUnwrap(try runProgram(browser, [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=" + dir + "/profile", "--enable-logging=stderr", "--v=0",
            "--dump-dom", url,
        ]))
        XCTAssertEqual(result.status, 0, result.stderr)
        return (result.stdout, result.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") })
    }
}
