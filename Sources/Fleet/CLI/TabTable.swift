/// Renders rows as fleetctl printed them through Go's `text/tabwriter` (minwidth 0, tabwidth 8,
/// padding 1, padchar TAB), so scripts that split fleetctl output on tabs or columns keep working.
///
/// Each column but the last is as wide as its longest cell plus one, rounded up to a multiple of 8,
/// and every cell in it is followed by as many TABs as it takes to reach that width
/// (`ceil((width - cellLength) / 8)`). The last column is never padded. Lengths count Unicode
/// scalars, as tabwriter counts runes. Rows are assumed to have the same number of cells, which
/// every fleetctl table has (empty values are already `-`).
public struct TabTable: Sendable {
    public static let tabWidth = 8

    public private(set) var rows: [[String]] = []

    public init(rows: [[String]] = []) { self.rows = rows }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The table as text, one line per row, each ending in `\n`.
    public func rendered() -> String {
        let columnCount = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columnCount)
        for row in rows {
            for (i, cell) in row.enumerated() where i < row.count - 1 {
                widths[i] = max(widths[i], Self.roundedWidth(cell.unicodeScalars.count))
            }
        }
        var out = ""
        for row in rows {
            for (i, cell) in row.enumerated() {
                out += cell
                if i < row.count - 1 {
                    let gap = widths[i] - cell.unicodeScalars.count
                    out += String(repeating: "\t", count: (gap + Self.tabWidth - 1) / Self.tabWidth)
                }
            }
            out += "\n"
        }
        return out
    }

    /// (length + padding 1) rounded up to the tab width.
    private static func roundedWidth(_ length: Int) -> Int {
        ((length + 1 + tabWidth - 1) / tabWidth) * tabWidth
    }
}
