import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Appends arguments to an outgoing sd-bus message.
///
/// Swift cannot call the variadic `sd_bus_message_append`, so each D-Bus type gets a typed method
/// built on `sd_bus_message_append_basic` and `open_container`. A writer is only valid inside the
/// closure it is handed to, which runs on the bus thread.
public struct BusMessageWriter {
    let message: OpaquePointer
    let member: String

    init(message: OpaquePointer, member: String) {
        self.message = message
        self.member = member
    }

    private func check(_ result: Int32, _ what: String) throws {
        if result < 0 { throw SystemdError.call(operation: "appending \(what) to \(member)", code: result) }
    }

    /// Appends a string (`s`).
    public func append(_ value: String) throws {
        try check(csd_bus_message_append_string(message, ascii("s"), value), "string")
    }

    /// Appends an object path (`o`).
    public func append(objectPath value: String) throws {
        try check(csd_bus_message_append_string(message, ascii("o"), value), "object path")
    }

    /// Appends a boolean (`b`).
    public func append(_ value: Bool) throws {
        try check(csd_bus_message_append_bool(message, value ? 1 : 0), "bool")
    }

    /// Appends an `i`.
    public func append(_ value: Int32) throws {
        try check(csd_bus_message_append_int32(message, value), "int32")
    }

    /// Appends a `u`.
    public func append(_ value: UInt32) throws {
        try check(csd_bus_message_append_uint32(message, value), "uint32")
    }

    /// Appends an array of strings (`as`).
    public func append(_ values: [String]) throws {
        try check(sd_bus_message_open_container(message, ascii("a"), "s"), "array")
        for value in values { try append(value) }
        try check(sd_bus_message_close_container(message), "array end")
    }
}

/// Reads arguments from a received sd-bus message (a reply or a signal).
///
/// Built on `sd_bus_message_read_basic` and `enter_container`; strings are copied out, so values stay
/// valid after the message is released. Only valid inside the closure it is handed to (bus thread).
public struct BusMessageReader {
    let message: OpaquePointer
    /// The member being decoded, for error messages.
    public let member: String

    init(message: OpaquePointer, member: String) {
        self.message = message
        self.member = member
    }

    /// The message's object path (for signals: the emitting object).
    public var path: String? {
        sd_bus_message_get_path(message).map { String(cString: $0) }
    }

    /// The message signature, e.g. `sa{sv}as`.
    public var signature: String {
        sd_bus_message_get_signature(message, 1).map { String(cString: $0) } ?? ""
    }

    func failure(_ detail: String) -> SystemdError {
        .unexpectedReply(member: member, detail: "\(detail) (signature '\(signature)')")
    }

    private func check(_ result: Int32, _ what: String) throws {
        if result < 0 { throw SystemdError.call(operation: "reading \(what) from \(member)", code: result) }
        if result == 0 { throw failure("missing \(what)") }
    }

    private func readStringLike(_ type: String) throws -> String {
        var out: UnsafePointer<CChar>? = nil
        try check(csd_bus_message_read_string(message, ascii(type), &out), "'\(type)'")
        guard let out else { throw failure("null '\(type)'") }
        return String(cString: out)
    }

    /// Reads a string (`s`).
    public func readString() throws -> String { try readStringLike("s") }

    /// Reads an object path (`o`).
    public func readObjectPath() throws -> String { try readStringLike("o") }

    /// Reads a `u`.
    public func readUInt32() throws -> UInt32 {
        var out: UInt32 = 0
        try check(csd_bus_message_read_uint32(message, &out), "'u'")
        return out
    }

    /// Reads an `i`.
    public func readInt32() throws -> Int32 {
        var out: Int32 = 0
        try check(csd_bus_message_read_int32(message, &out), "'i'")
        return out
    }

    /// Reads a `t`.
    public func readUInt64() throws -> UInt64 {
        var out: UInt64 = 0
        try check(csd_bus_message_read_uint64(message, &out), "'t'")
        return out
    }

    /// Reads a `b`.
    public func readBool() throws -> Bool {
        var out: Int32 = 0
        try check(csd_bus_message_read_bool(message, &out), "'b'")
        return out != 0
    }

    /// Enters a container; returns false at the end of an enclosing array (no more elements).
    /// `type` is `a`, `r` (struct), `e` (dict entry) or `v` (variant).
    public func enter(_ type: String, _ contents: String) throws -> Bool {
        let result = sd_bus_message_enter_container(message, ascii(type), contents)
        if result < 0 {
            if result == -Int32(ENXIO) { throw failure("expected '\(type)' container of '\(contents)'") }
            throw SystemdError.call(operation: "entering '\(type)\(contents)' in \(member)", code: result)
        }
        return result > 0
    }

    /// Leaves the current container.
    public func exit() throws {
        let result = sd_bus_message_exit_container(message)
        if result < 0 { throw SystemdError.call(operation: "leaving a container in \(member)", code: result) }
    }

    /// Skips values of the given signature (e.g. `v` for a variant we do not decode).
    public func skip(_ types: String) throws {
        let result = sd_bus_message_skip(message, types)
        if result < 0 { throw SystemdError.call(operation: "skipping '\(types)' in \(member)", code: result) }
    }

    /// The type and contents of the next value, or nil at the end of the current container.
    public func peek() throws -> (type: Character, contents: String?)? {
        var type: CChar = 0
        var contents: UnsafePointer<CChar>? = nil
        let result = sd_bus_message_peek_type(message, &type, &contents)
        if result < 0 { throw SystemdError.call(operation: "peeking in \(member)", code: result) }
        if result == 0 { return nil }
        return (Character(Unicode.Scalar(UInt8(bitPattern: type))), contents.map { String(cString: $0) })
    }

    /// Reads an array (`a<element>`), calling `element` for each entry until the array ends.
    public func readArray<T>(
        of elementSignature: String, _ element: (BusMessageReader) throws -> T
    ) throws -> [T] {
        guard try enter("a", elementSignature) else { throw failure("missing array a\(elementSignature)") }
        var out: [T] = []
        while try !atEnd() {
            out.append(try element(self))
        }
        try exit()
        return out
    }

    /// Reads a struct (`(<fields>)`): enters it, runs `body`, leaves it.
    public func readStruct<T>(
        _ fields: String, _ body: (BusMessageReader) throws -> T
    ) throws -> T {
        guard try enter("r", fields) else { throw failure("missing struct (\(fields))") }
        let value = try body(self)
        try exit()
        return value
    }

    /// Reads `as`.
    public func readStringArray() throws -> [String] {
        try readArray(of: "s") { reader in try reader.readString() }
    }

    /// True at the end of the current container.
    public func atEnd() throws -> Bool {
        let result = sd_bus_message_at_end(message, 0)
        if result < 0 { throw SystemdError.call(operation: "checking end in \(member)", code: result) }
        return result > 0
    }

    /// Reads a variant holding a string (`v` of `s`), or skips it and returns nil if it holds another type.
    public func readStringVariant() throws -> String? {
        if let next = try peek(), next.type == "v", next.contents == "s" {
            guard try enter("v", "s") else { throw failure("missing variant") }
            let value = try readString()
            try exit()
            return value
        }
        try skip("v")
        return nil
    }
}

/// The C `char` for a one-character D-Bus type code.
@inline(__always)
func ascii(_ type: String) -> CChar {
    CChar(bitPattern: type.utf8.first ?? 0)
}
