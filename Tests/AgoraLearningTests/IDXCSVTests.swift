import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import Foundation
import XCTest

final class IDXCSVTests: XCTestCase {
    func testMNISTTestSet() throws {
        let d = try IDXReader.dataset(
            images: try sharedData("mnist/t10k-images-idx3-ubyte.gz"),
            labels: try sharedData("mnist/t10k-labels-idx1-ubyte.gz"))
        XCTAssertEqual(d.rows, 10000)
        XCTAssertEqual(d.features.cols, 784)
        XCTAssertEqual(d.labelNames, (0...9).map(String.init))
        XCTAssertEqual(d.labelCounts.reduce(0, +), 10000)
        // Known class counts of the MNIST test set.
        XCTAssertEqual(d.labelCounts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        guard case let .dense(x) = d.features else { return XCTFail("images are dense") }
        XCTAssertEqual(x.storage.max(), 1)
        XCTAssertEqual(x.storage.min(), 0)
    }

    func testDigitsCSV() throws {
        let d = try CSVReader.read(path: try sharedData("uci/digits.csv.gz"))
        XCTAssertEqual(d.rows, 1797)
        XCTAssertEqual(d.features.cols, 64)
        XCTAssertEqual(d.classes, 10)
        XCTAssertEqual(d.labelCounts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    }

    func testIDXErrors() {
        func expect(_ b: [UInt8], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try IDXReader.parse(b, name: "x.idx"), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        expect([0, 0], "only 2 bytes")
        expect([1, 2, 3, 4], "bad IDX magic 01 02 03 04")
        expect([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "element type 0x0D is not supported")
        expect([0, 0, 8, 2, 0, 0, 0, 2], "truncated IDX header")
        expect([0, 0, 8, 1, 0, 0, 0, 3, 7, 7], "need 3 data bytes, file has 2 (truncated)")
        XCTAssertEqual(try IDXReader.parse([0, 0, 8, 1, 0, 0, 0, 2, 5, 6], name: "ok").values, [5, 6])
    }

    func testGzipRoundTripAndCorruption() throws {
        // gzip of "1,2,a\n3,4,b\n" made by Python's gzip module (mtime 0).
        let gz: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x33, 0xd4, 0x31, 0xd2, 0x49, 0xe4,
            0x32, 0xd6, 0x31, 0xd1, 0x49, 0xe2, 0x02, 0x00, 0x82, 0xfa, 0xf2, 0xb7, 0x0c, 0x00, 0x00, 0x00,
        ]
        XCTAssertEqual(String(decoding: try CompressedFile.gunzip(gz, name: "t.gz"), as: UTF8.self), "1,2,a\n3,4,b\n")
        XCTAssertThrowsError(try CompressedFile.gunzip(Array(gz.prefix(16)), name: "t.gz")) { e in
            XCTAssertTrue("\(e)".contains("truncated gzip data"), "\(e)")
        }
        var bad = gz
        bad[12] ^= 0xFF
        XCTAssertThrowsError(try CompressedFile.gunzip(bad, name: "t.gz")) { e in XCTAssertTrue("\(e)".contains("t.gz:"), "\(e)") }
    }

    func testCSVHeaderModesLabelsByValueAndBOM() throws {
        // 1 and 1.0 are one class; a BOM is skipped; numeric label order.
        let d = try CSVReader.parse(Array("\u{FEFF}0.5,2,1\n3,4,1.0\n5,6,-1\n".utf8), name: "t.csv")
        XCTAssertEqual(d.rows, 3)
        XCTAssertNil(d.columnNames)
        XCTAssertEqual(d.labelNames, ["-1", "1"])
        XCTAssertEqual(d.labels, [1, 1, 0])
        // A header row is detected only when no feature field is a number.
        let h = try CSVReader.parse(Array("a,b,label\n1,2,0\n3,4,1\n".utf8), name: "h.csv")
        XCTAssertEqual(h.columnNames ?? [], ["a", "b", "label"])
        XCTAssertEqual(h.rows, 2)
        // Numeric column names: a text label above numeric labels makes the first row a header,
        // not a data row whose label is a third class.
        let n = try CSVReader.parse(Array("0,1,label\n1,2,0\n3,4,1\n5,6,1\n".utf8), name: "n.csv")
        XCTAssertEqual(n.columnNames ?? [], ["0", "1", "label"])
        XCTAssertEqual(n.rows, 3)
        XCTAssertEqual(n.labelNames, ["0", "1"])
        XCTAssertEqual(n.labels, [0, 1, 1])
        // Text labels throughout stay data (the first row is a row like the others).
        let t = try CSVReader.parse(Array("0,1,cat\n1,2,dog\n".utf8), name: "t2.csv")
        XCTAssertNil(t.columnNames)
        XCTAssertEqual(t.rows, 2)
        // An empty cell or a typo in the first row is ambiguous in auto mode; explicit modes decide.
        XCTAssertThrowsError(try CSVReader.parse(Array("1,,0\n3,4,1\n".utf8), name: "e.csv")) {
            XCTAssertTrue("\($0)".contains("e.csv:1: the first row mixes numbers and text"), "\($0)")
        }
        let yes = try CSVReader.parse(Array("1,x,0\n3,4,1\n".utf8), name: "y.csv", header: .yes)
        XCTAssertEqual(yes.rows, 1)
        XCTAssertThrowsError(try CSVReader.parse(Array("1,x,0\n3,4,1\n".utf8), name: "n.csv", header: .no)) {
            XCTAssertTrue("\($0)".contains("n.csv:1:3"), "\($0)")
        }
        XCTAssertThrowsError(try CSVReader.parse(Array("1,2,nan\n3,4,1\n".utf8), name: "l.csv")) {
            XCTAssertTrue("\($0)".contains("l.csv:1: label 'nan' is not a finite number"), "\($0)")
        }
    }

    func testCSVConventionsAndErrors() throws {
        let d = try CSVReader.parse(Array("f1,f2,label\r\n1,2,cat\n3,4,dog\n\n5,6,cat".utf8), name: "a.csv")
        XCTAssertEqual(d.rows, 3)
        XCTAssertEqual(d.labelNames, ["cat", "dog"])
        XCTAssertEqual(d.labels, [0, 1, 0])
        let first = try CSVReader.parse(Array("0,1,2\n1,3,4\n".utf8), name: "b.csv", labelColumn: 0)
        XCTAssertEqual(first.labels, [0, 1])
        XCTAssertEqual(first.features.cols, 2)
        func expect(_ t: String, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try CSVReader.parse(Array(t.utf8), name: "c.csv"), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        expect("1,2,3\n4,5\n", "c.csv:2: 2 fields, expected 3")
        expect("a,b,y\n1,x,0\n", "c.csv:2:3: field 2 ('b') = 'x' is not a finite number")
        expect("", "no data rows")
        expect("7\n", "expected at least 2 columns")
        expect("\u{01}\u{02}", "unexpected byte 0x01")
    }
}
