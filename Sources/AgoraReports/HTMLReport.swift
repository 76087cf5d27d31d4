import AgoraCore
import Foundation

/// Self-contained HTML pages: inline CSS, inline SVG plots, the data as tables, a few lines of
/// JavaScript that sort and filter tables. Nothing is fetched from the network, so a report opens
/// from a file on a laptop, an archive or a cluster's login node alike. The page marks itself
/// `data-ready="yes"` on `<body>` once its script has run, and records any script error in
/// `data-errors`: a headless browser can check both (`make report-check`).
public enum HTMLReport {
    /// One part of a page: a heading and its HTML.
    public struct Section: Sendable {
        public var title: String
        public var html: String
        public init(title: String, html: String) {
            self.title = title
            self.html = html
        }
    }

    /// Text as HTML (element content and attribute values).
    public static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A table whose columns sort on a click of their heading (numbers as numbers) and whose rows
    /// a text box filters (every word must appear in the row; `column=value` matches one column).
    public static func table(columns: [String], rows: [[String]], caption: String? = nil) -> String {
        var s =
            "<div class='tablebox'><input class='filter' type='search' placeholder='filter rows: words, or column=value' aria-label='filter rows'>"
        s += " <span class='count'>\(rows.count) rows</span>\n<table class='data'>"
        if let caption { s += "<caption>\(escape(caption))</caption>" }
        s += "<thead><tr>" + columns.map { "<th title='sort'>\(escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for r in rows {
            s += "<tr>" + r.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
        }
        return s + "</tbody></table></div>\n"
    }

    /// A table of name-value pairs.
    public static func keyValues(_ pairs: [(String, String)]) -> String {
        "<table class='kv'>" + pairs.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n")
            + "</table>\n"
    }

    /// An SVG document (as `SVGPlot` writes them) inline in a figure, without its XML prologue.
    public static func figure(svg: String, caption: String? = nil) -> String {
        var body = svg
        if body.hasPrefix("<?xml"), let end = body.range(of: "?>") { body = String(body[end.upperBound...]) }
        return "<figure>\(body)\(caption.map { "<figcaption>\(escape($0))</figcaption>" } ?? "")</figure>\n"
    }

    /// The whole page.
    public static func page(title: String, subtitle: String, sections: [Section]) -> String {
        var s = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>\(style)</style>
            <script>window.onerror = function (m) { document.body.dataset.errors = (document.body.dataset.errors || '') + m + ';'; };</script>
            </head>
            <body>
            <header><h1>\(escape(title))</h1><p>\(escape(subtitle))</p></header>
            <nav>\(sections.enumerated().map { "<a href='#s\($0.offset)'>\(escape($0.element.title))</a>" }.joined(separator: " · "))</nav>

            """
        for (k, sec) in sections.enumerated() {
            s += "<section id='s\(k)'><h2>\(escape(sec.title))</h2>\n\(sec.html)</section>\n"
        }
        return s + "<script>\(script)</script>\n</body></html>\n"
    }

    static let style = """
        body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#222}
        header h1{margin:24px 0 4px;font-size:22px}header p{margin:0 0 8px;color:#555}
        nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd;z-index:1}nav a{color:#1f4e8c;text-decoration:none}
        h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #eee}
        figure{margin:12px 0;display:inline-block;vertical-align:top}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:12px}
        .tablebox{overflow-x:auto;margin:8px 0}.filter{width:320px;padding:4px 6px}.count{color:#555;font-size:12px}
        table.data{border-collapse:collapse;font-size:12px;margin-top:6px}table.data th,table.data td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
        table.data th{background:#f3f5f8;cursor:pointer;position:sticky;top:0}table.data th.asc:after{content:' \\25B2'}table.data th.desc:after{content:' \\25BC'}
        table.kv th{text-align:left;padding-right:16px;font-weight:600}table.kv td{font-family:ui-monospace,monospace}
        pre{background:#f6f8fa;padding:8px;overflow-x:auto}
        """

    static let script = """
        (function () {
          function num(s) { var x = parseFloat(s); return (s.trim() !== '' && isFinite(s)) ? x : null; }
          document.querySelectorAll('div.tablebox').forEach(function (box) {
            var table = box.querySelector('table'), body = table.tBodies[0], heads = table.tHead.rows[0].cells;
            var names = Array.prototype.map.call(heads, function (h) { return h.textContent; });
            var input = box.querySelector('input.filter'), count = box.querySelector('.count');
            Array.prototype.forEach.call(heads, function (h, col) {
              h.addEventListener('click', function () {
                var asc = !h.classList.contains('asc');
                Array.prototype.forEach.call(heads, function (o) { o.classList.remove('asc', 'desc'); });
                h.classList.add(asc ? 'asc' : 'desc');
                var rows = Array.prototype.slice.call(body.rows);
                rows.sort(function (a, b) {
                  var x = a.cells[col].textContent, y = b.cells[col].textContent, nx = num(x), ny = num(y);
                  var c = (nx !== null && ny !== null) ? nx - ny : x.localeCompare(y);
                  return asc ? c : -c;
                });
                rows.forEach(function (r) { body.appendChild(r); });
              });
            });
            input.addEventListener('input', function () {
              var words = input.value.toLowerCase().split(/\\s+/).filter(function (w) { return w; }), shown = 0;
              Array.prototype.forEach.call(body.rows, function (r) {
                var text = r.textContent.toLowerCase(), ok = words.every(function (w) {
                  var eq = w.indexOf('=');
                  if (eq > 0) {
                    var col = names.map(function (n) { return n.toLowerCase(); }).indexOf(w.slice(0, eq));
                    return col >= 0 && r.cells[col].textContent.toLowerCase() === w.slice(eq + 1);
                  }
                  return text.indexOf(w) >= 0;
                });
                r.style.display = ok ? '' : 'none';
                if (ok) shown++;
              });
              count.textContent = shown + ' of ' + body.rows.length + ' rows';
            });
          });
          document.body.dataset.tables = document.querySelectorAll('table.data').length;
          document.body.dataset.plots = document.querySelectorAll('figure svg').length;
          document.body.dataset.ready = 'yes';
        })();
        """

    /// Writes a page atomically.
    public static func write(_ html: String, to path: String) throws {
        try SystemFile.writeAtomically(html, to: path)
    }
}
