import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import Foundation
import XCTest

final class LIBSVMTests: XCTestCase {
    func testA9A() throws {
        let d = try LIBSVMReader.read(path: try sharedData("libsvm/a9a"), features: 123)
        XCTAssertEqual(d.rows, 32561)
        XCTAssertEqual(d.features.cols, 123)
        XCTAssertEqual(d.labelNames, ["-1", "+1"])
        XCTAssertEqual(d.labelCounts, [24720, 7841])
        let t = try LIBSVMReader.read(path: try sharedData("libsvm/a9a.t"), features: 123)
        XCTAssertEqual(t.rows, 16281)
        XCTAssertEqual(t.features.cols, 123, "explicit feature count although the file's largest index is 122")
        XCTAssertEqual(t.labelCounts, [12435, 3846])
        XCTAssertEqual(try LIBSVMReader.read(path: try sharedData("libsvm/a9a.t")).features.cols, 122)
    }

    func testMushroomsWithCRLFAndNoFinalNewline() throws {
        let d = try LIBSVMReader.read(path: try sharedData("libsvm/mushrooms"))
        XCTAssertEqual(d.rows, 8124)
        XCTAssertEqual(d.features.cols, 112)
        XCTAssertEqual(d.labelNames, ["1", "2"])
        XCTAssertEqual(d.labelCounts, [3916, 4208])
    }

    /// A gzip-compressed LIBSVM file (gzip run here) reads as the plain one.
    func testGzippedFileReadsAsThePlainOne() throws {
        let dir = NSTemporaryDirectory() + "agora-libsvm-gz-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = dir + "/small.libsvm"
        try "+1 1:0.5 3:2\n-1 2:1e-3\n+1 1:1 3:-4\n".write(toFile: plain, atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/sh")
        gzip.arguments = ["-c", "gzip -c '\(plain)' > '\(plain).gz'"]
        try gzip.run()
        gzip.waitUntilExit()
        guard gzip.terminationStatus == 0 else { throw missingResource("gzip is not available") }
        let a = try LIBSVMReader.read(path: plain), b = try LIBSVMReader.read(path: plain + ".gz")
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertEqual(a.labelNames, b.labelNames)
        guard case let .sparse(x) = a.features, case let .sparse(z) = b.features else { return XCTFail("sparse") }
        XCTAssertEqual(x.values, z.values)
        XCTAssertEqual(x.columns, z.columns)
        XCTAssertEqual(x.rowStart, z.rowStart)
    }

    func testSmallFileValuesAndConventions() throws {
        let text = "# header comment\r\n+1 1:0.5 3:2 # trailing\r\n\r\n-1 2:1e-3\n0 \n+1 1:1 2:0 3:-4"
        let d = try LIBSVMReader.parse(Array(text.utf8), name: "small.txt", features: 4)
        XCTAssertEqual(d.rows, 4)
        XCTAssertEqual(d.labelNames, ["-1", "0", "+1"])
        XCTAssertEqual(d.labels, [2, 0, 1, 2])
        guard case let .sparse(csr) = d.features else { return XCTFail("LIBSVM data stays sparse") }
        XCTAssertEqual(csr.cols, 4)
        XCTAssertEqual(csr.rowStart, [0, 2, 3, 3, 5], "explicit zeros are not stored")
        XCTAssertEqual(csr.columns, [0, 2, 1, 0, 2])
        XCTAssertEqual(csr.values, [0.5, 2, 1e-3, 1, -4])
    }

    func testBrokenFilesGiveTheirSpecificError() {
        func expect(_ text: [UInt8], _ fragment: String, features: Int = 0, line: UInt = #line) {
            XCTAssertThrowsError(try LIBSVMReader.parse(text, name: "bad.svm", features: features), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        expect(Array("+1 1:0.5 3:\n".utf8), "bad.svm:1:12: missing value after '3:'")
        expect(Array("+1 1:0.5\n-1 4:1 2:1\n".utf8), "bad.svm:2:8: feature index 2 after 4")
        expect(Array("+1 1:abc\n".utf8), "bad.svm:1:6: value 'abc' of feature 1 is not a finite number")
        expect(Array("+1 1:1 7:1\n".utf8), "bad.svm:1:8: feature index 7 is beyond the feature count 5", features: 5)
        expect(Array("+1 0:1\n".utf8), "feature index '0' is not a positive integer")
        expect(Array("yes 1:1\n".utf8), "bad.svm:1:1: label 'yes' is not a number")
        expect(Array("+1 1-1\n".utf8), "bad.svm:1:4: expected 'index:value', found '1-1'")
        expect([], "no data rows")
        expect(Array("# only a comment\n\n".utf8), "no data rows")
        expect([0x1F, 0x8B, 0x08, 0x00, 0xFF, 0x10], "bad.svm:1:1: unexpected byte 0x1F")
        XCTAssertThrowsError(try LIBSVMReader.read(path: "/nonexistent/file.svm")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/file.svm: cannot read the LIBSVM file: No such file or directory"), "\(e)")
        }
    }
}
