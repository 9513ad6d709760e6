@_spi(Engine) import SwannCore
import Testing

struct VectorMatrixTests {
    @Test func rejectsAbsurdSizes() {
        #expect(throws: VectorMatrix.SizeError.self) { try VectorMatrix(elementType: .float32, count: 1, dimension: 0) }
        #expect(throws: VectorMatrix.SizeError.self) { try VectorMatrix(elementType: .float32, count: 1, dimension: 65_537) }
        #expect(throws: VectorMatrix.SizeError.self) { try VectorMatrix(elementType: .float32, count: Int.max / 2, dimension: 1000) }
    }

    @Test func storageIsAlignedAndPacked() throws {
        let m = try VectorMatrix(elementType: .float16, count: 3, dimension: 5)
        #expect(Int(bitPattern: m.rawBytes.baseAddress) % 64 == 0)
        #expect(m.rowBytes == 10)
        #expect(m.byteCount == 30)
    }

    @Test(arguments: ElementType.allCases)
    func roundTripsThroughFloat(elementType: ElementType) throws {
        let rows: [[Float]] = [[1, -2, 3.5, 0], [127, -128, 0.25, 255]]
        let m = try VectorMatrix.from(rows, elementType: elementType)
        let back = (0..<2).map { m.floats(at: $0) }
        switch elementType {
        case .float32, .float16: #expect(back == rows)
        case .int8: #expect(back == [[1, -2, 4, 0], [127, -128, 0, 127]])  // rounded (half away from zero), clamped
        case .uint8: #expect(back == [[1, 0, 4, 0], [127, 0, 0, 255]])
        }
    }

    @Test func statisticsCountNonFiniteRows() throws {
        let m = try VectorMatrix.from([[3, 4], [.nan, 1], [0, .infinity]])
        var s = VectorStatistics()
        s.add(m)
        #expect(s.count == 3)
        #expect(s.nonFiniteRows == 2)
        #expect(s.nonFiniteValues == 2)
        #expect(s.maximumNorm == 5)
        #expect(s.minimumValue == 0 && s.maximumValue == 4)
    }
}
