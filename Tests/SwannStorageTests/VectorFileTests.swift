import Foundation
@_spi(Engine) import SwannCore
import SwannStorage
import SwannTestSupport
import Testing

/// A fresh temporary directory per test.
func temporaryDirectory() -> String { TestDirectory.make() }

func write(_ bytes: [UInt8], to path: String) {
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { le($0.bitPattern) }
}

struct VectorFileTests {
    static let matrixFormats: [(VectorFileFormat, ElementType)] = [
        (.fvecs, .float32), (.bvecs, .uint8), (.fbin, .float32), (.u8bin, .uint8), (.i8bin, .int8),
        (.npy, .float32), (.npy, .float16), (.npy, .int8), (.npy, .uint8),
    ]

    @Test(arguments: 0..<matrixFormats.count)
    func vectorsRoundTrip(index: Int) throws {
        let (format, elementType) = Self.matrixFormats[index]
        var rng = SplitMix64(seed: UInt64(index))
        let rows = (0..<37).map { _ in (0..<13).map { _ in Float(Int(rng.next() % 200) - 100) / 4 } }
        let matrix = try VectorMatrix.from(rows, elementType: elementType)
        let path = temporaryDirectory() + "/v.\(format)"
        try VectorFileWriter.write(matrix, to: path)
        let file = try VectorFile(path: path)
        #expect(file.count == 37 && file.dimension == 13)
        #expect(file.layout.scalar == FileScalar(elementType))
        let back = try file.readVectors()
        #expect(back.elementType == elementType)
        #expect(Array(back.rawBytes) == Array(matrix.rawBytes))
        let middle = try file.readVectors(rows: 5..<9)
        #expect(Array(middle.rawBytes) == Array(matrix.rawBytes[5 * matrix.rowBytes..<9 * matrix.rowBytes]))
        var seen = 0
        try file.forEachChunk(rowsPerChunk: 10) { chunk, first in
            #expect(first == seen)
            #expect(Array(chunk.rawBytes) == Array(matrix.rawBytes[first * matrix.rowBytes..<(first + chunk.count) * matrix.rowBytes]))
            seen += chunk.count
        }
        #expect(seen == 37)
    }

    @Test(arguments: [VectorFileFormat.ivecs, .ibin, .npy])
    func neighborsRoundTrip(format: VectorFileFormat) throws {
        let table = NeighborTable(queryCount: 3, k: 4, ids: (0..<12).map { Int64($0 * 7) }, distances: (0..<12).map { Float($0) / 2 })
        let path = temporaryDirectory() + "/gt.\(format)"
        try VectorFileWriter.write(table, to: path)
        let back = try VectorFile(path: path).readNeighbors()
        #expect(back.ids == table.ids)
        #expect(back.distances == (format == .ibin ? table.distances : []))
    }

    @Test func readsNumpyVersions2And3() throws {
        let dir = temporaryDirectory()
        for version: UInt8 in [2, 3] {
            var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
            dict += String(repeating: " ", count: 64 - (12 + dict.utf8.count + 1) % 64) + "\n"
            var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0] + le(UInt32(dict.utf8.count)) + Array(dict.utf8)
            bytes += floatBytes([1, 2, 3, 4, 5, 6])
            write(bytes, to: "\(dir)/v\(version).npy")
            let m = try VectorFile(path: "\(dir)/v\(version).npy").readVectors()
            #expect(m.floats(at: 1) == [4, 5, 6])
        }
    }

    @Test func readsSixtyFourBitIDsFromNumpy() throws {
        let dir = temporaryDirectory()
        for (descr, values) in [("<u8", [UInt64(7), 1 << 40, UInt64.max]), ("<i8", [UInt64(3), 9, 1 << 62])] {
            var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (3, 1), }"
            dict += String(repeating: " ", count: 64 - (10 + dict.utf8.count + 1) % 64) + "\n"
            let bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0] + le(UInt16(dict.utf8.count)) + Array(dict.utf8) + values.flatMap { le($0) }
            write(bytes, to: "\(dir)/ids\(descr.last!).npy")
            #expect(try VectorFile(path: "\(dir)/ids\(descr.last!).npy").readIDs() == values)
        }
        var negative = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }"
        negative += String(repeating: " ", count: 64 - (10 + negative.utf8.count + 1) % 64) + "\n"
        write([0x93] + Array("NUMPY".utf8) + [1, 0] + le(UInt16(negative.utf8.count)) + Array(negative.utf8) + le(Int64(-4)), to: dir + "/neg.npy")
        let error = #expect(throws: VectorFileError.self) { try VectorFile(path: dir + "/neg.npy").readIDs() }
        #expect(error?.code == .outOfRange)
    }

    @Test func formatOverrideBeatsTheExtension() throws {
        let dir = temporaryDirectory()
        let m = try VectorMatrix.from([[1, 2], [3, 4]])
        try VectorFileWriter.write(m, to: "\(dir)/v.fbin")
        try FileManager.default.moveItem(atPath: "\(dir)/v.fbin", toPath: "\(dir)/vectors.dat")
        #expect(throws: VectorFileError.self) { try VectorFile(path: "\(dir)/vectors.dat") }
        #expect(try VectorFile(path: "\(dir)/vectors.dat", format: .fbin).readVectors().floats(at: 1) == [3, 4])
    }

    @Test func refusesToWriteFloat16AsFbin() throws {
        let m = try VectorMatrix.from([[1, 2]], elementType: .float16)
        let error = #expect(throws: VectorFileError.self) { try VectorFileWriter.write(m, to: temporaryDirectory() + "/x.fbin") }
        #expect(error?.code == .wrongScalarType)
    }
}
