import AgoraCore
import AgoraExperiments
import Foundation
import XCTest

/// Sweep files: the grid they describe, the cells' command lines and names, the shards, and the
/// one table of results.
final class SweepTests: XCTestCase {
    func sweep(_ json: String) throws -> Sweep {
        try Sweep.parse(JSONValue.parse(Array(json.utf8), what: "test.json"), file: "test.json")
    }

    func texts(_ values: [JSONValue]) -> [String] { values.map { $0.scalarText ?? $0.json } }

    /// Axes multiply with the first outermost and seeds innermost; a zipped group moves together;
    /// every cell's command line has the command, then every option sorted by name.
    func testGridOrderZipAndCommandLines() throws {
        let s = try sweep(
            """
            { "command": "dsgd", "options": { "agents": 16, "inflate": ["0:3", "1:2"], "intercept": true, "no-x": false },
              "axes": [ { "name": "topology", "values": ["ring", "exponential"] },
                        { "zip": [ { "name": "iterations", "values": [100, 200, 300] }, { "name": "lr", "values": [0.5, 0.25, 0.125] } ] } ],
              "seeds": 2 }
            """)
        XCTAssertEqual(s.command, "dsgd run")
        XCTAssertEqual(s.count, 2 * 3 * 2)
        XCTAssertEqual(s.axisNames, ["topology", "iterations", "lr", "seed"])
        let cells = s.cells()
        XCTAssertEqual(cells.map(\.index), Array(0..<12))
        // Naive reference: the nested loops in axis order.
        var expected: [[String]] = []
        for t in ["ring", "exponential"] {
            for (it, lr) in [("100", "0.5"), ("200", "0.25"), ("300", "0.125")] {
                for seed in ["1", "2"] { expected.append([t, it, lr, seed]) }
            }
        }
        XCTAssertEqual(cells.map { texts($0.settings.map(\.value)) }, expected)
        XCTAssertEqual(
            cells[5].arguments,
            [
                "dsgd", "run", "--agents", "16", "--inflate", "0:3", "--inflate", "1:2", "--intercept", "--iterations", "300", "--lr",
                "0.125", "--seed", "2", "--topology", "ring",
            ])
        XCTAssertEqual(Set(cells.map(\.key)).count, cells.count, "every cell has its own key")
    }

    /// Ranges: arithmetic (integers stay integers) and geometric; seeds as a count, a list or a range.
    func testRangesAndSeeds() throws {
        let s = try sweep(
            """
            { "command": "mix",
              "axes": [ { "name": "agents", "range": { "from": 16, "to": 1024, "times": 4 } },
                        { "name": "dim", "range": { "from": 10, "to": 40, "step": 10 } },
                        { "name": "steps", "range": { "from": 0.1, "to": 0.5, "step": 0.2 } } ],
              "seeds": { "from": 3, "to": 5 } }
            """)
        XCTAssertEqual(texts(s.axes[0].values.map { $0[0] }), ["16", "64", "256", "1024"])
        XCTAssertEqual(texts(s.axes[1].values.map { $0[0] }), ["10", "20", "30", "40"])
        let third = s.axes[2].values.map { $0[0].number! }
        XCTAssertEqual(third.count, 3)
        for (a, b) in zip(third, [0.1, 0.3, 0.5]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(texts(s.axes[3].values.map { $0[0] }), ["3", "4", "5"])
        XCTAssertEqual(try sweep(#"{ "command": "mix", "seeds": [7, 9] }"#).count, 2)
        XCTAssertEqual(try sweep(#"{ "command": "mix" }"#).count, 1, "no axes: one cell")
    }

    /// A cell's key is FNV-1a (64 bits) of its words, each closed by a zero byte: values from an
    /// independent implementation (Python), so keys stay stable across versions and machines.
    func testKeysAreTheDigestOfTheCommandLine() throws {
        XCTAssertEqual(Sweep.digest([]), "cbf29ce484222325")
        XCTAssertEqual(Sweep.digest(["a"]), "089be207b544f1e4")
        XCTAssertEqual(Sweep.digest(["mix", "--agents", "16"]), "6da1674674f29272")
        let s = try sweep(#"{ "command": "mix", "options": { "agents": 16 } }"#)
        XCTAssertEqual(s.cell(0).key, "6da1674674f29272")
        // Moving an option between fixed and an axis of one value names the same cell.
        let t = try sweep(#"{ "command": "mix", "axes": [ { "name": "agents", "values": [16] } ] }"#)
        XCTAssertEqual(t.cell(0).key, s.cell(0).key)
    }

    /// Shards share the cells out: each cell in exactly one shard, for any shard count.
    func testShardsPartitionTheCells() throws {
        let s = try sweep(#"{ "command": "mix", "axes": [ { "name": "agents", "values": [2, 3, 4, 5, 6, 7, 8] } ], "seeds": 3 }"#)
        for n in 1...25 {
            let indices = (0..<n).flatMap { s.cells(shard: $0, of: n).map(\.index) }
            XCTAssertEqual(indices.sorted(), Array(0..<s.count), "\(n) shards")
        }
    }

    /// Mistakes name the file and the field.
    func testErrorsNameTheFileAndField() throws {
        let cases: [(String, String)] = [
            (#"{ "command": "mix", "axis": [] }"#, "axis: unknown field"),
            (#"{ "command": "train" }"#, "command: 'train' is not a command"),
            (#"{ "command": "mix", "options": { "out": "x" } }"#, "options.out: --out is set by the sweep"),
            (#"{ "command": "mix", "options": { "Agents": 3 } }"#, "options.Agents: 'Agents' is not an option name"),
            (#"{ "command": "mix", "options": { "dim": 3 }, "axes": [ { "name": "dim", "values": [1, 2] } ] }"#, "--dim is set twice"),
            (#"{ "command": "mix", "axes": [ { "name": "dim", "values": [] } ] }"#, "axes[0].values: expected a non-empty list"),
            (
                #"{ "command": "mix", "axes": [ { "zip": [ { "name": "a", "values": [1] }, { "name": "b", "values": [1, 2] } ] } ] }"#,
                "axes[0].zip: zipped axes must have equal lengths"
            ),
            (#"{ "command": "mix", "axes": [ { "name": "dim", "range": { "from": 1, "to": 5, "step": -1 } } ] }"#, "axes[0].range.step"),
            (#"{ "command": "mix", "axes": [ { "name": "dim", "values": [ { "a": 1 } ] } ] }"#, "axes[0].values[0]: expected a number"),
            (#"{ "command": "mix", "seeds": [-1] }"#, "seeds[0]: expected a non-negative integer"),
            (#"{ "command": "mix", "seeds": 1000000000 }"#, "seeds: expected a list of seeds, a count N in 1...100000"),
            (
                #"{ "command": "mix", "axes": [ { "name": "dim", "range": { "from": 9e18, "to": 9.1e18, "step": 1 } } ] }"#,
                "from and to must lie within"
            ),
            (
                #"{ "command": "mix", "axes": [ { "name": "dim", "range": { "from": 0, "to": 1, "step": 1e-9 } } ] }"#,
                "more than 100000 values"
            ),
            (
                #"{ "command": "mix", "axes": [ { "name": "a", "range": { "from": 1, "to": 99999, "step": 1 } }, { "name": "b", "range": { "from": 1, "to": 99999, "step": 1 } }, { "name": "c", "range": { "from": 1, "to": 99999, "step": 1 } }, { "name": "d", "range": { "from": 1, "to": 99999, "step": 1 } } ] }"#,
                "the grid has"
            ),
        ]
        for (json, fragment) in cases {
            XCTAssertThrowsError(try sweep(json), json) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("test.json: "), text)
                XCTAssertTrue(text.contains(fragment), "\(json): \(text)")
            }
        }
        XCTAssertThrowsError(try sweep("{ \"command\": \"mix\",\n  \"axes\": [ { \"name\" 1 } ] }")) { error in
            let e = error as? AgoraError
            XCTAssertEqual(e?.file, "test.json")
            XCTAssertEqual(e?.line, 2, "\(error)")
            XCTAssertNotNil(e?.column, "\(error)")
        }
    }

    /// The table: configuration columns then metrics (nested keys joined by dots, lists of objects
    /// keyed by their method, other lists left out), timings apart, failed and missing cells kept
    /// as rows with their status; CSV quoting as pandas reads it; JSON lines with the same values.
    func testTableColumnsStatusesAndTimings() throws {
        let s = try sweep(
            #"{ "command": "market run", "options": { "rounds": 2 }, "axes": [ { "name": "partition", "values": ["iid", "a,b"] } ], "seeds": 2 }"#
        )
        let summary = try JSONValue.parse(
            Array(
                (#"{ "clients": 10, "secondsTotal": 1.5, "timing": { "setupSeconds": 0.2 }, "note": "x, \"y\"", "series": [1, 2],"#
                    + #" "methods": [ { "method": "ipfl", "accuracy": 0.75, "seconds": 0.1 }, { "method": "local", "accuracy": 0.5 } ] }"#)
                    .utf8),
            what: "summary")
        let cells = s.cells()
        let outcomes: [SweepOutcome] = [.done(summary), .failed(exitStatus: 3, message: "went wrong"), .missing, .done(summary)]
        let table = SweepTable(sweep: s, cells: cells, outcomes: outcomes)
        XCTAssertEqual(
            table.columns,
            [
                "cell", "key", "status", "partition", "seed", "rounds", "clients", "methods.ipfl.accuracy", "methods.ipfl.method",
                "methods.local.accuracy", "methods.local.method", "note", "error",
            ])
        XCTAssertEqual(table.timingColumns, ["cell", "key", "methods.ipfl.seconds", "secondsTotal", "timing.setupSeconds"])
        XCTAssertEqual(table.timingRows.count, 2)
        let lines = table.csv.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 1 + 4 + 1)
        XCTAssertEqual(lines[1], "0,\(cells[0].key),done,iid,1,2,10,0.75,ipfl,0.5,local,\"x, \"\"y\"\"\",")
        XCTAssertEqual(lines[2], "1,\(cells[1].key),failed,iid,2,2,,,,,,,exit status 3: went wrong")
        XCTAssertEqual(lines[3], "2,\(cells[2].key),missing,\"a,b\",1,2,,,,,,,")
        // JSON lines: one object per cell with the same values.
        let rows = table.jsonLines.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows[0]["note"] as? String, "x, \"y\"")
        XCTAssertEqual(rows[0]["methods.ipfl.accuracy"] as? Double, 0.75)
        XCTAssertEqual(rows[3]["partition"] as? String, "a,b")
        XCTAssertNil(rows[2]["clients"])
        XCTAssertEqual(rows[1]["status"] as? String, "failed")
    }
}
