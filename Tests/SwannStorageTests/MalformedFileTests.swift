import Foundation
@_spi(Engine) import SwannCore
import SwannStorage
import Testing

/// Every malformed file is refused with the file, the offset and expected-vs-found.
struct MalformedFileTests {
    func expectError(
        _ bytes: [UInt8],
        name: String,
        code: VectorFileError.Code,
        offset: Int64? = nil,
        mentions: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let path = temporaryDirectory() + "/" + name
        write(bytes, to: path)
        do {
            let file = try VectorFile(path: path)
            _ = try file.layout.scalar == .int32 ? nil : file.readVectors()
            Issue.record("\(name) was accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.path == path, sourceLocation: sourceLocation)
            if let offset { #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation) }
            if let mentions { #expect(error.description.contains(mentions), "\(error)", sourceLocation: sourceLocation) }
            #expect(error.description.hasPrefix(path), sourceLocation: sourceLocation)
        }
    }

    @Test func emptyFile() {
        for name in ["e.fvecs", "e.fbin", "e.npy"] { expectError([], name: name, code: .empty, offset: 0) }
    }

    @Test func truncatedBigANN() {
        expectError(
            le(UInt32(3)) + le(UInt32(2)) + floatBytes([1, 2, 3, 4, 5]),
            name: "t.fbin",
            code: .truncated,
            offset: 28,
            mentions: "expected 32 bytes"
        )
        expectError([1, 0, 0], name: "h.fbin", code: .truncated, offset: 0)
    }

    @Test func bigANNHeaderLargerThanFile() {
        expectError(le(UInt32(1)) + le(UInt32(2)) + floatBytes([1, 2, 3]), name: "s.fbin", code: .sizeMismatch, mentions: "found 20 bytes")
    }

    @Test func fvecsRowWithDifferentDimension() {
        let bytes = le(Int32(2)) + floatBytes([1, 2]) + le(Int32(3)) + floatBytes([1, 2])
        expectError(bytes, name: "d.fvecs", code: .inconsistentDimension, offset: 12, mentions: "found 3")
    }

    @Test func fvecsTruncatedRow() {
        expectError(le(Int32(2)) + floatBytes([1, 2]) + le(Int32(2)) + floatBytes([1]), name: "t.fvecs", code: .truncated, offset: 12)
    }

    @Test func dimensionZeroOrAbsurd() {
        expectError(le(UInt32(1)) + le(UInt32(0)), name: "z.fbin", code: .badDimension, offset: 4)
        expectError(le(Int32(70_000)) + [UInt8](repeating: 0, count: 70_000), name: "a.bvecs", code: .badDimension, offset: 0, mentions: "70000")
        expectError(le(Int32(-5)) + [0, 0, 0, 0], name: "n.fvecs", code: .badDimension, offset: 0)
    }

    func npy(_ dict: String, payload: Int = 0, version: UInt8 = 1) -> [UInt8] {
        [0x93] + Array("NUMPY".utf8) + [version, 0] + le(UInt16(dict.utf8.count)) + Array(dict.utf8) + [UInt8](repeating: 0, count: payload)
    }

    @Test func numpyProblems() {
        expectError(
            npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", payload: 32),
            name: "f8.npy",
            code: .unsupportedType,
            offset: 10,
            mentions: "'<f8'"
        )
        expectError(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", payload: 16), name: "be.npy", code: .unsupportedType)
        expectError(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", payload: 16), name: "fo.npy", code: .fortranOrder)
        expectError(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", payload: 32),
            name: "3d.npy",
            code: .badHeader,
            mentions: "2-D"
        )
        // Strict like numpy (hardening issue #15): no repeated key (numpy takes the last, Swann
        // once took the first), no unterminated dictionary, no unknown key, nothing after it.
        expectError(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'shape': (1, 4), }", payload: 16),
            name: "dup.npy",
            code: .badHeader,
            mentions: "once"
        )
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", payload: 16), name: "open.npy", code: .badHeader)
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)", payload: 16), name: "open2.npy", code: .badHeader)
        expectError(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}", payload: 16),
            name: "extra.npy",
            code: .badHeader,
            mentions: "extra"
        )
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} x", payload: 16), name: "tail.npy", code: .badHeader)
        expectError(npy("{'descr': '<f4', 'fortran_order': False}", payload: 16), name: "noshape.npy", code: .badHeader)
        // A shape whose byte count overflows is a short file, not a trap.
        expectError(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999999, 4), }", payload: 16),
            name: "huge.npy",
            code: .truncated
        )
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }", payload: 16), name: "short.npy", code: .truncated)
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", version: 9), name: "v9.npy", code: .badHeader, offset: 6)
        expectError(Array("not numpy at all".utf8), name: "magic.npy", code: .badHeader, offset: 0)
        expectError(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }"), name: "d0.npy", code: .badDimension)
    }

    @Test func unknownExtensionAndMissingFile() {
        #expect(throws: VectorFileError.self) { try VectorFile(path: "/tmp/vectors.csv") }
        let missing = #expect(throws: VectorFileError.self) { try VectorFile(path: "/nonexistent/v.fbin") }
        #expect(missing?.code == .cannotOpen)
    }

    @Test func idFileIsNotAVectorFile() throws {
        let path = temporaryDirectory() + "/gt.ivecs"
        write(le(Int32(1)) + le(Int32(7)), to: path)
        let error = #expect(throws: VectorFileError.self) { try VectorFile(path: path).readVectors() }
        #expect(error?.code == .wrongScalarType)
        #expect(try VectorFile(path: path).readNeighbors().ids == [7])
    }

    /// A 1-D `.npy` of integers is an id file (the README lists `.npy` ids).
    @Test func oneDimensionalNumpyIDs() throws {
        let path = temporaryDirectory() + "/ids.npy"
        let ids: [Int64] = [5, 9, 1_000_000_000_000]
        var bytes = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }")
        for id in ids { bytes += le(id) }
        write(bytes, to: path)
        #expect(try VectorFile(path: path).readIDs() == ids.map(UInt64.init))
    }
}
