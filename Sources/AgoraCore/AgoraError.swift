/// The one error type of Agora's libraries.
///
/// Every public entry point validates its input and throws an `AgoraError` instead of trapping. It
/// carries a `kind` (what class of problem, so a caller can choose an exit code or a retry), a
/// message a user can act on (what was wrong and what was expected), and, when known, where it
/// happened: a file with line and column, and the configuration field. Messages never name
/// command-line flags: the library does not know how it is driven.
public struct AgoraError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What class of problem this is.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Array or matrix dimensions that do not fit together (usually a caller's bug).
        case shape
        /// A configuration value outside its valid range or inconsistent with another one
        /// (topologies, schedules, mechanisms, experiments, contract settings).
        case configuration
        /// A data file or data set that is malformed or unusable (names file, line, column).
        case data
        /// A file that cannot be read or written, or a saved state (checkpoint) that cannot be used.
        case io
        /// A computation that left the finite numbers (divergence), or a solver that failed.
        case numerical
        /// A run that would need more memory (or other resources) than the machine allows.
        case resources
    }

    public var kind: Kind
    public var message: String
    /// The file the problem is in, if any.
    public var file: String?
    public var line: Int?
    public var column: Int?
    /// The configuration field (dotted path) the problem is in, if known.
    public var field: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil, line: Int? = nil, column: Int? = nil, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
    }

    /// "FILE:LINE:COLUMN: message" when a file is known, "field: message" when only a field is.
    public var description: String {
        var prefix = ""
        if let file {
            prefix = file
            if let line { prefix += ":\(line)" }
            if let column { prefix += ":\(column)" }
            prefix += ": "
        } else if let field {
            prefix = field + ": "
        }
        return prefix + message
    }

    /// Mismatched dimensions.
    public static func shape(_ message: String) -> AgoraError { AgoraError(.shape, message) }
    /// An invalid or inconsistent configuration value.
    public static func configuration(_ message: String, field: String? = nil) -> AgoraError {
        AgoraError(.configuration, message, field: field)
    }
    /// A problem in a data file or data set, located as precisely as known.
    public static func data(file: String, line: Int? = nil, column: Int? = nil, _ message: String) -> AgoraError {
        AgoraError(.data, message, file: file, line: line, column: column)
    }
    /// A file that cannot be read or written, or saved state that cannot be used.
    public static func io(_ message: String, file: String? = nil) -> AgoraError { AgoraError(.io, message, file: file) }
    /// Divergence or solver failure.
    public static func numerical(_ message: String) -> AgoraError { AgoraError(.numerical, message) }
}
