// Program names from the modules' command lines: one module per ELF, every name it runs under.

import RawBytes

/// Why a word of a module's command line was not taken as a program name.
public enum ProgramNameProblem: Equatable, Sendable {
    /// The command line holds no name at all, so nothing can run the module.
    case noName
    /// Longer than `ProgramNameTable.maximumLength` bytes (names live in fixed 32-byte slots).
    case tooLong
    /// A byte outside `a-z A-Z 0-9 - _ .`: such a name could not be given as `run=NAME@CPU`.
    case badCharacter(UInt8)
    /// Already the name of this or an earlier module: the first one keeps it.
    case duplicate

    /// What the console says about it, after the rejected word.
    public var message: StaticString {
        switch self {
        case .noName: "the module's command line names no program; the module is ignored"
        case .tooLong: "longer than 31 bytes; name ignored"
        case .badCharacter: "has a byte other than a-z, A-Z, 0-9, '-', '_', '.'; name ignored"
        case .duplicate: "already names an earlier program; the first one keeps it"
        }
    }
}

/// The kernel's program table: each name a module runs under, and which module it is.
///
/// GRUB's `module2 FILE WORDS...` passes WORDS as the module's command line (the `string`
/// field of the module tag, Multiboot2 spec §3.6.5). Swiglet's images give one module per ELF
/// and list there every name that ELF runs under, separated by spaces:
/// `module2 /boot/programs/faulty.elf faulty faulty-ud faulty-gp faulty-de`, so that GRUB reads
/// each file once (under TCG a module costs tens of milliseconds of boot time). A program picks
/// its behaviour from the name it was started as (the `name` system call).
public struct ProgramNameTable {
    /// The longest name, in bytes: the kernel keeps names in 32-byte slots, and `run=NAME@CPU`
    /// takes names of at most 31 bytes.
    public static let maximumLength = 31
    /// How much of a rejected word is kept for the console message.
    public static let keptRejectedBytes = 40

    /// One usable name.
    public struct Entry: Equatable, Sendable {
        /// The name's bytes (1 to `maximumLength`, from the allowed set).
        public let name: [UInt8]
        /// The index of its module, in the order the boot loader listed them.
        public let module: Int
    }

    /// One word that was not taken, or a module without any name.
    public struct Rejection: Equatable, Sendable {
        /// The module's index.
        public let module: Int
        /// The first `keptRejectedBytes` bytes of the word (empty for `.noName`).
        public let word: [UInt8]
        /// Whether the word was longer than what `word` keeps.
        public let cut: Bool
        /// Why.
        public let problem: ProgramNameProblem
    }

    /// The usable names, in the order of their modules and then of their command lines.
    public private(set) var entries: [Entry] = []
    /// What was refused, in the same order.
    public private(set) var rejections: [Rejection] = []
    /// How many modules were added.
    public private(set) var moduleCount = 0

    /// An empty table, before the first module.
    public init() {}

    /// Adds module `moduleCount` (the next index) with its command line: each word separated by
    /// spaces or tabs becomes a name, unless it is too long, has a byte outside the allowed set,
    /// or is taken already. A NUL ends the command line (the tag's string is NUL-terminated).
    public mutating func addModule(commandLine: ByteReader) {
        let module = moduleCount
        moduleCount += 1
        var offset = 0
        var wordsSeen = 0
        while offset < commandLine.count {
            let byte = commandLine.u8(at: offset) ?? 0
            if byte == 0 { break }
            if Self.isSeparator(byte) { offset += 1; continue }
            var end = offset
            while end < commandLine.count, let next = commandLine.u8(at: end), next != 0, !Self.isSeparator(next) { end += 1 }
            wordsSeen += 1
            add(word: commandLine.slice(at: offset, count: end - offset) ?? ByteReader(), moduleIndex: module)
            offset = end
        }
        if wordsSeen == 0 {
            rejections.append(Rejection(module: module, word: [], cut: false, problem: .noName))
        }
    }

    /// The module that runs under `name`, if any.
    public func module(named name: UnsafeRawBufferPointer) -> Int? {
        for entry in entries where entry.name.count == name.count {
            var same = true
            for index in 0..<name.count where entry.name[index] != name[index] { same = false; break }
            if same { return entry.module }
        }
        return nil
    }

    /// The names module `module` runs under, in command-line order.
    public func names(ofModule module: Int) -> [[UInt8]] {
        entries.filter { $0.module == module }.map { $0.name }
    }

    private mutating func add(word: ByteReader, moduleIndex: Int) {
        var bytes: [UInt8] = []
        var problem: ProgramNameProblem? = word.count > Self.maximumLength ? .tooLong : nil
        for offset in 0..<word.count {
            let byte = word.u8(at: offset) ?? 0
            if problem == nil && !Self.isAllowed(byte) { problem = .badCharacter(byte) }
            if bytes.count < Self.keptRejectedBytes { bytes.append(byte) }
        }
        if problem == nil {
            let taken = bytes.withUnsafeBytes { self.module(named: $0) != nil }
            if taken { problem = .duplicate }
        }
        if let problem {
            rejections.append(Rejection(module: moduleIndex, word: bytes, cut: word.count > bytes.count, problem: problem))
        } else {
            entries.append(Entry(name: bytes, module: moduleIndex))
        }
    }

    /// Space and tab separate names (GRUB joins `module2`'s words with single spaces; a
    /// hand-written command line may have more).
    static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// Letters, digits, '-', '_' and '.': bytes that survive the boot options' own parsing
    /// (`run=NAME@CPU` splits at spaces, '=' and '@') and print as they are.
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }
}
