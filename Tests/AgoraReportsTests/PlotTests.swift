import AgoraReports
import Foundation
import XCTest

#if canImport(FoundationXML)
import FoundationXML
#endif

final class PlotTests: XCTestCase {
    func wellFormed(_ svg: String) -> Bool {
        XMLParser(data: Data(svg.utf8)).parse()
    }

    func testLinePlotIsWellFormedAndDropsNonPositiveOnLogScale() {
        let svg = SVGPlot.lines(
            title: "a < b & c", xLabel: "x", yLabel: "y",
            series: [
                .init(name: "one", points: [(0, 1), (1, 0.1), (2, 0), (3, .nan)]),
                .init(name: "two", points: [(0, 2), (3, 0.01)], dashed: true),
            ], logY: true)
        XCTAssertTrue(wellFormed(svg))
        XCTAssertTrue(svg.contains("a &lt; b &amp; c"))
        XCTAssertTrue(svg.contains(">one<") && svg.contains(">two<"))
        // Log axis spans whole decades 1e-2 .. 1e0.
        XCTAssertTrue(svg.contains(">1e-2<") && svg.contains(">1e0<"))
        // Two data points survive for "one" (the zero and the NaN are dropped).
        let polylines = svg.components(separatedBy: "<polyline").dropFirst()
        XCTAssertEqual(polylines.first?.components(separatedBy: "points='")[1].split(separator: "'")[0].split(separator: " ").count, 2)
    }

    func testHeatMapColoursSpanTheRange() {
        let svg = SVGPlot.heatMap(title: "h", xLabel: "x", yLabel: "y", xs: [0, 1], ys: [0, 1, 2], z: [[0, 1], [2, 3], [4, 5]])
        XCTAssertTrue(wellFormed(svg))
        XCTAssertTrue(svg.contains("#440154"), "lowest value gets the first colour stop")
        XCTAssertTrue(svg.contains("#fde725"), "highest value gets the last colour stop")
        XCTAssertEqual(svg.components(separatedBy: "<rect").count - 1, 1 + 6 + 1 + 50, "background, 6 cells, frame, colour bar")
    }
}
