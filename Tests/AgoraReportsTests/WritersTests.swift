import AgoraReports
import Foundation
import XCTest

final class WritersTests: XCTestCase {
    func testCSVQuotesOnlyWhatNeedsIt() throws {
        var t = CSVTable(columns: ["name", "value", "note"])
        t.append(["a", CSVTable.field(1.5), CSVTable.field("plain")])
        t.append(["b", CSVTable.field(Double?.none), CSVTable.field("x, \"y\"")])
        t.append(["c", "2", CSVTable.field("", quoted: true)])
        XCTAssertEqual(t.text, "name,value,note\na,1.5,plain\nb,,\"x, \"\"y\"\"\"\nc,2,\"\"\n")
        let path = NSTemporaryDirectory() + "agora-writers-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try t.write(to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), t.text)
    }

    /// `CSVTable.fields(ofLine:)` reads back what `CSVTable.field` writes, commas, quotes and
    /// empty fields included.
    func testCSVFieldsReadBackWhatFieldWrites() {
        let values = ["plain", "a,b", "say \"hi\"", "", "\"", ",", "x\"\",\"y"]
        let line = values.map { CSVTable.field($0) }.joined(separator: ",")
        XCTAssertEqual(CSVTable.fields(ofLine: line), values)
        XCTAssertEqual(CSVTable.fields(ofLine: "1,2\r"), ["1", "2"])
        XCTAssertEqual(CSVTable.fields(ofLine: ""), [""])
    }

    func testJSONLinesAreSortedAndOneLine() throws {
        struct S: Encodable {
            let b = 2
            let a = [1.0, 0.5]
        }
        XCTAssertEqual(try JSONOutput.line(S()), #"{"a":[1,0.5],"b":2}"#)
    }

    /// The DOT writer: one line per node and edge, labels quoted and escaped, highlighted nodes red.
    func testDOTGraphQuotesLabelsAndMarksHighlightedNodes() {
        let g = DOTGraph(
            name: "market", comment: "an edge j -> i: i buys j's model",
            nodes: [.init(id: 0, label: "0\nN=5000"), .init(id: 1, label: "say \"hi\"", highlighted: true)],
            edges: [.init(from: 1, to: 0, label: "r=0.25"), .init(from: 0, to: 1)])
        XCTAssertEqual(
            g.text,
            """
            digraph "market" {
              // an edge j -> i: i buys j's model
              0 [label="0\\nN=5000"];
              1 [label="say \\"hi\\"", color=red];
              1 -> 0 [label="r=0.25"];
              0 -> 1;
            }

            """)
    }
}
