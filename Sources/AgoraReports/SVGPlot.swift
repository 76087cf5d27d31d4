import AgoraCore
import Foundation

/// Minimal, dependency-free SVG charts for experiment outputs: line plots (linear or log y) and
/// heat maps with a colour bar. Files open in any browser; the data behind every plot is also
/// written as CSV by the commands that draw them.
public enum SVGPlot {
    public struct Series: Sendable {
        public var name: String
        public var points: [(Double, Double)]
        public var dashed: Bool
        /// Error bars: the half-length at each point (nil: none).
        public var errors: [Double]?
        public init(name: String, points: [(Double, Double)], dashed: Bool = false, errors: [Double]? = nil) {
            self.name = name
            self.points = points
            self.dashed = dashed
            self.errors = errors
        }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static func esc(_ s: String) -> String { HTMLReport.escape(s) }

    static func tick(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-2 { return String(format: "%.0e", v) }
        return String(format: a >= 100 ? "%.0f" : (a >= 1 ? "%.3g" : "%.2g"), v)
    }

    /// A line chart. With `logY`, non-positive values are dropped. Series with `errors` get
    /// vertical bars of that half-length. With `xCategories`, x = k is labelled by the k-th name
    /// (a categorical axis: topologies, partitions) instead of numeric ticks.
    public static func lines(
        title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool = false,
        xCategories: [String]? = nil, width: Double = 800, height: Double = 440
    ) -> String {
        let left = 80.0, right = 250.0, top = 40.0, bottom = 55.0
        let pw = width - left - right, ph = height - top - bottom
        var pts = series.flatMap { $0.points }.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
        for ser in series {
            guard let e = ser.errors else { continue }
            for (p, h) in zip(ser.points, e) where h.isFinite && h > 0 {
                pts.append((p.0, p.1 + h))
                if !logY || p.1 - h > 0 { pts.append((p.0, p.1 - h)) }
            }
        }
        pts = pts.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
        var x0 = pts.map(\.0).min() ?? 0, x1 = pts.map(\.0).max() ?? 1
        var y0 = pts.map { logY ? log10($0.1) : $0.1 }.min() ?? 0, y1 = pts.map { logY ? log10($0.1) : $0.1 }.max() ?? 1
        if x1 == x0 { x1 = x0 + 1 }
        if y1 == y0 {
            y1 = y0 + 1
            y0 -= 1
        }
        if logY {
            y0 = floor(y0)
            y1 = ceil(y1)
        } else {
            let pad = 0.05 * (y1 - y0)
            y0 -= pad
            y1 += pad
        }
        if let c = xCategories {
            x0 = -0.5
            x1 = Double(max(c.count, 1)) - 0.5
        } else if !logY && x0 > 0 && x0 < 0.2 * x1 {
            x0 = 0
        }
        func sx(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func sy(_ y: Double) -> Double { top + ph - ((logY ? log10(y) : y) - y0) / (y1 - y0) * ph }
        var s = header(width, height, title)
        s += "<rect x='\(left)' y='\(top)' width='\(pw)' height='\(ph)' fill='none' stroke='#444'/>\n"
        if let c = xCategories {
            for (k, name) in c.enumerated() {
                let xv = Double(k)
                s +=
                    "<line x1='\(sx(xv))' y1='\(top + ph)' x2='\(sx(xv))' y2='\(top + ph + 5)' stroke='#444'/><text x='\(sx(xv))' y='\(top + ph + 20)' text-anchor='middle'>\(esc(name))</text>\n"
            }
        } else {
            for k in 0...5 {
                let xv = x0 + (x1 - x0) * Double(k) / 5
                s +=
                    "<line x1='\(sx(xv))' y1='\(top + ph)' x2='\(sx(xv))' y2='\(top + ph + 5)' stroke='#444'/><text x='\(sx(xv))' y='\(top + ph + 20)' text-anchor='middle'>\(tick(xv))</text>\n"
            }
        }
        if logY {
            for e in Int(y0)...Int(y1) {
                let yy = top + ph - (Double(e) - y0) / (y1 - y0) * ph
                s +=
                    "<line x1='\(left)' y1='\(yy)' x2='\(left + pw)' y2='\(yy)' stroke='#ddd'/><text x='\(left - 8)' y='\(yy + 4)' text-anchor='end'>1e\(e)</text>\n"
            }
        } else {
            for k in 0...5 {
                let yv = y0 + (y1 - y0) * Double(k) / 5
                let yy = sy(yv)
                s +=
                    "<line x1='\(left)' y1='\(yy)' x2='\(left + pw)' y2='\(yy)' stroke='#ddd'/><text x='\(left - 8)' y='\(yy + 4)' text-anchor='end'>\(tick(yv))</text>\n"
            }
        }
        s += "<text x='\(left + pw / 2)' y='\(height - 12)' text-anchor='middle'>\(esc(xLabel))</text>\n"
        s += "<text x='18' y='\(top + ph / 2)' text-anchor='middle' transform='rotate(-90 18 \(top + ph / 2))'>\(esc(yLabel))</text>\n"
        for (k, ser) in series.enumerated() {
            let color = palette[k % palette.count]
            let path = ser.points.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
                .map { String(format: "%.2f,%.2f", sx($0.0), sy($0.1)) }.joined(separator: " ")
            s +=
                "<polyline fill='none' stroke='\(color)' stroke-width='2' \(ser.dashed ? "stroke-dasharray='6 4'" : "") points='\(path)'/>\n"
            for (p, h) in zip(ser.points, ser.errors ?? []) where p.0.isFinite && p.1.isFinite && h.isFinite && h > 0 {
                let lo = logY ? max(p.1 - h, pow(10, y0)) : p.1 - h
                let x = sx(p.0)
                let d = String(format: "M%.2f,%.2fV%.2fM%.2f,%.2fh8M%.2f,%.2fh8", x, sy(lo), sy(p.1 + h), x - 4, sy(lo), x - 4, sy(p.1 + h))
                s += "<path d='\(d)' stroke='\(color)' fill='none'/>\n"
            }
            let ly = top + 14 + Double(k) * 20
            s +=
                "<line x1='\(left + pw + 12)' y1='\(ly - 4)' x2='\(left + pw + 36)' y2='\(ly - 4)' stroke='\(color)' stroke-width='2' \(ser.dashed ? "stroke-dasharray='6 4'" : "")/><text x='\(left + pw + 42)' y='\(ly)'>\(esc(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A heat map of z[yIndex][xIndex] over the grid (xs, ys), with a colour bar.
    public static func heatMap(
        title: String, xLabel: String, yLabel: String, xs: [Double], ys: [Double], z: [[Double]],
        width: Double = 720, height: Double = 480
    ) -> String {
        let left = 80.0, right = 120.0, top = 40.0, bottom = 55.0
        let pw = width - left - right, ph = height - top - bottom
        let flat = z.flatMap { $0 }.filter(\.isFinite)
        let zmin = flat.min() ?? 0, zmax = flat.max() ?? 1
        let span = zmax > zmin ? zmax - zmin : 1
        var s = header(width, height, title)
        let cw = pw / Double(max(1, xs.count)), ch = ph / Double(max(1, ys.count))
        for (j, row) in z.enumerated() {
            for (i, v) in row.enumerated() where v.isFinite {
                let x = left + Double(i) * cw, y = top + ph - Double(j + 1) * ch
                s += String(
                    format: "<rect x='%.2f' y='%.2f' width='%.2f' height='%.2f' fill='%@'/>\n", x, y, cw + 0.3, ch + 0.3,
                    color((v - zmin) / span))
            }
        }
        s += "<rect x='\(left)' y='\(top)' width='\(pw)' height='\(ph)' fill='none' stroke='#444'/>\n"
        for k in 0...5 {
            let i = min(xs.count - 1, Int(Double(xs.count - 1) * Double(k) / 5)),
                j = min(ys.count - 1, Int(Double(ys.count - 1) * Double(k) / 5))
            if xs.indices.contains(i) {
                s += "<text x='\(left + (Double(i) + 0.5) * cw)' y='\(top + ph + 20)' text-anchor='middle'>\(tick(xs[i]))</text>\n"
            }
            if ys.indices.contains(j) {
                s += "<text x='\(left - 8)' y='\(top + ph - (Double(j) + 0.5) * ch + 4)' text-anchor='end'>\(tick(ys[j]))</text>\n"
            }
        }
        // Colour bar.
        let bx = left + pw + 25
        for k in 0..<50 {
            let f = Double(k) / 49
            s += String(
                format: "<rect x='%.1f' y='%.2f' width='18' height='%.2f' fill='%@'/>\n", bx, top + ph - (Double(k) + 1) * ph / 50,
                ph / 50 + 0.3, color(f))
        }
        s += "<text x='\(bx + 24)' y='\(top + 8)'>\(tick(zmax))</text><text x='\(bx + 24)' y='\(top + ph)'>\(tick(zmin))</text>\n"
        s += "<text x='\(left + pw / 2)' y='\(height - 12)' text-anchor='middle'>\(esc(xLabel))</text>\n"
        s += "<text x='18' y='\(top + ph / 2)' text-anchor='middle' transform='rotate(-90 18 \(top + ph / 2))'>\(esc(yLabel))</text>\n"
        return s + "</svg>\n"
    }

    static func header(_ w: Double, _ h: Double, _ title: String) -> String {
        "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(w))' height='\(Int(h))' viewBox='0 0 \(Int(w)) \(Int(h))' font-family='sans-serif' font-size='12'>\n"
            + "<rect width='100%' height='100%' fill='white'/>\n<text x='\(w / 2)' y='22' text-anchor='middle' font-size='15'>\(esc(title))</text>\n"
    }

    /// A perceptually ordered blue-green-yellow ramp (viridis-like), f in [0, 1].
    static func color(_ f: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let t = min(1, max(0, f)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(t)), u = t - Double(i)
        let a = stops[i], b = stops[i + 1]
        return String(format: "#%02x%02x%02x", Int(a.0 + (b.0 - a.0) * u), Int(a.1 + (b.1 - a.1) * u), Int(a.2 + (b.2 - a.2) * u))
    }

    /// A directed graph on a circle: node i labelled `labels[i]`, an arrow for each edge (from, to),
    /// nodes listed in `highlighted` drawn in red (e.g. attackers).
    public static func directedGraph(
        title: String, labels: [String], edges: [(Int, Int)], highlighted: Set<Int> = [],
        size: Double = 520
    ) -> String {
        let n = labels.count, c = size / 2, r = size / 2 - 60
        func pos(_ i: Int) -> (Double, Double) {
            let a = 2 * Double.pi * Double(i) / Double(max(1, n)) - Double.pi / 2
            return (c + r * cos(a), c + 20 + r * sin(a))
        }
        var s = header(size, size + 40, title)
        s +=
            "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' markerHeight='7' orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#555'/></marker></defs>\n"
        let nodeRadius = 14.0
        for (a, b) in edges where a != b && a < n && b < n {
            let (x0, y0) = pos(a), (x1, y1) = pos(b)
            let len = max(1e-9, ((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)).squareRoot())
            let ux = (x1 - x0) / len, uy = (y1 - y0) / len
            s += String(
                format: "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#555' stroke-width='1.5' marker-end='url(#arrow)'/>\n",
                x0 + ux * nodeRadius, y0 + uy * nodeRadius, x1 - ux * nodeRadius, y1 - uy * nodeRadius)
        }
        for i in 0..<n {
            let (x, y) = pos(i)
            s +=
                String(format: "<circle cx='%.1f' cy='%.1f' r='%.0f' ", x, y, nodeRadius)
                + "fill='\(highlighted.contains(i) ? "#f4a3a3" : "#cfe2f3")' stroke='#222'/>"
            s += String(format: "<text x='%.1f' y='%.1f' text-anchor='middle'>", x, y + 4) + esc(labels[i]) + "</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Writes `svg` to `path`, creating the folder.
    public static func write(_ svg: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try SystemFile.writeAtomically(svg, to: path)
    }
}
