// Tests of the waiting lists: order within a list, one list per number, removal from anywhere, bounds.

import Channels
import XCTest

final class WaitingListsTests: XCTestCase {
    /// Pops every number of `list`.
    private func drain(_ lists: inout WaitingLists, _ list: Int) -> [Int] {
        var numbers: [Int] = []
        while let number = lists.popFirst(of: list) { numbers.append(number) }
        return numbers
    }

    func testEachListKeepsItsOrder() {
        var lists = WaitingLists(capacity: 10, listCount: 3)
        for number in [4, 1, 7] { XCTAssertTrue(lists.append(number, to: 0)) }
        for number in [2, 9] { XCTAssertTrue(lists.append(number, to: 2)) }
        XCTAssertEqual(lists.count(of: 0), 3)
        XCTAssertEqual(lists.count(of: 2), 2)
        XCTAssertTrue(lists.isEmpty(1))
        XCTAssertEqual(lists.list(of: 7), 0)
        XCTAssertEqual(lists.list(of: 9), 2)
        XCTAssertNil(lists.list(of: 3))
        XCTAssertEqual(drain(&lists, 0), [4, 1, 7])
        XCTAssertEqual(drain(&lists, 2), [2, 9])
        XCTAssertNil(lists.list(of: 4), "popped numbers are in no list")
        XCTAssertNil(lists.popFirst(of: 1))
    }

    func testANumberIsInOneListAtATime() {
        var lists = WaitingLists(capacity: 8, listCount: 2)
        lists.append(3, to: 0)
        lists.append(5, to: 0)
        lists.append(3, to: 1)   // moves
        XCTAssertEqual(lists.list(of: 3), 1)
        XCTAssertEqual(lists.count(of: 0), 1)
        lists.append(5, to: 0)   // the same list: to the back
        lists.append(6, to: 0)
        lists.append(5, to: 0)
        XCTAssertEqual(drain(&lists, 0), [6, 5])
        XCTAssertEqual(drain(&lists, 1), [3])
    }

    func testRemovalFromTheFrontMiddleAndBack() {
        var lists = WaitingLists(capacity: 8, listCount: 1)
        for number in 0..<6 { lists.append(number, to: 0) }
        XCTAssertEqual(lists.remove(0), 0)
        XCTAssertEqual(lists.remove(3), 0)
        XCTAssertEqual(lists.remove(5), 0)
        XCTAssertNil(lists.remove(5), "not in a list any more")
        XCTAssertNil(lists.remove(7), "never was")
        XCTAssertEqual(lists.count(of: 0), 3)
        lists.append(0, to: 0)
        XCTAssertEqual(drain(&lists, 0), [1, 2, 4, 0])
        XCTAssertEqual(lists.count(of: 0), 0)
    }

    func testOutOfRangeChangesNothing() {
        var lists = WaitingLists(capacity: 4, listCount: 2)
        XCTAssertFalse(lists.append(4, to: 0))
        XCTAssertFalse(lists.append(-1, to: 0))
        XCTAssertFalse(lists.append(1, to: 2))
        lists.append(1, to: 1)
        XCTAssertFalse(lists.append(1, to: -1), "a bad list leaves the number where it was")
        XCTAssertEqual(lists.list(of: 1), 1)
        XCTAssertNil(lists.list(of: 4))
        XCTAssertNil(lists.list(of: -1))
    }

    /// Random appends, removals and pops against a model of arrays.
    func testMatchesAModel() {
        var lists = WaitingLists(capacity: 64, listCount: 4)
        var model = Array(repeating: [Int](), count: 4)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let number = Int.random(in: 0..<64, using: &random)
            let list = Int.random(in: 0..<4, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                lists.append(number, to: list)
                for index in model.indices { model[index].removeAll { $0 == number } }
                model[list].append(number)
            case 1:
                let was = model.firstIndex { $0.contains(number) }
                XCTAssertEqual(lists.remove(number), was)
                for index in model.indices { model[index].removeAll { $0 == number } }
            default:
                XCTAssertEqual(lists.popFirst(of: list), model[list].first)
                if !model[list].isEmpty { model[list].removeFirst() }
            }
            XCTAssertEqual(lists.count(of: list), model[list].count)
            XCTAssertEqual(lists.totalCount, model.map(\.count).reduce(0, +))
        }
        for list in 0..<4 { XCTAssertEqual(drain(&lists, list), model[list]) }
    }
}
