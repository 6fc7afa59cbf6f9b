"""The historian's journal: order, bound, exact loss counts, torn tails, restarts."""

import os

import pytest

from adapters.sql.historian.journal import (
    CACHE_ROWS,
    ID_FILE,
    SUFFIX,
    Journal,
    Row,
    decode,
    encode,
    scan,
)


def rows(start, n):
    return [
        Row(f"P{i % 7}", float(i), i % 64, 1_800_000_000.0 + i, i & 0xFFFF)
        for i in range(start, start + n)
    ]


def read_all(journal, size=1000):
    out = []
    while (batch := journal.read(size)) is not None:
        assert batch.last - batch.first + 1 == len(batch.rows)
        out.extend(batch.rows)
    return out


def test_a_record_round_trips():
    batch = rows(0, 50)
    record = encode(1, batch)
    records, sound = scan(record)
    assert records == [(0, 1, 50)] and sound == len(record)
    assert decode(record[20:], 50) == batch


def test_rows_come_back_in_order_and_sent_ones_do_not(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20)
    for k in range(10):
        journal.append(rows(k * 100, 100))
    first = journal.read(250)
    assert (first.first, first.last) == (1, 300)  # whole records
    journal.mark_sent(first.last)
    assert journal.pending == 700
    assert read_all(journal) == rows(300, 700)
    journal.close()


def test_rewind_reads_the_unsent_rows_again(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20)
    journal.append(rows(0, 10))
    journal.append(rows(10, 10))
    assert journal.read(10).last == 10
    journal.mark_sent(10)
    assert journal.read(10).first == 11
    journal.rewind()  # that write failed
    again = journal.read(100)
    assert (again.first, again.rows) == (11, rows(10, 10))


def test_unsent_rows_survive_a_restart_and_the_numbering_goes_on(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    for k in range(20):
        journal.append(rows(k * 10, 10))
    journal.mark_sent(55)  # in the middle of a record
    journal.close()
    again = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    assert again.id == journal.id
    again.mark_sent(55)
    got = read_all(again)
    assert got == rows(55, 145)
    again.append(rows(1000, 1))
    assert again.next_seq == 202


def test_sent_segments_are_deleted_but_the_newest_stays(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    for k in range(100):
        journal.append(rows(k * 10, 10))
    assert journal.segments > 3
    journal.mark_sent(1000)
    assert journal.segments == 1 and journal.pending == 0
    assert len(list(tmp_path.glob(f"*{SUFFIX}"))) == 1


def test_a_torn_tail_is_cut_not_fatal(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20)
    journal.append(rows(0, 30))
    journal.append(rows(30, 30))
    journal.close()
    (segment,) = tmp_path.glob(f"*{SUFFIX}")
    whole = segment.read_bytes()
    record = encode(61, rows(60, 30))
    segment.write_bytes(whole + record[: len(record) // 2])  # killed mid-write
    again = Journal(tmp_path, max_bytes=1 << 20)
    assert again.opened.cut_bytes == len(record) // 2
    assert again.opened.rows == 60
    assert read_all(again) == rows(0, 60)
    again.append(rows(60, 5))
    assert again.next_seq == 66
    again.close()
    assert len(segment.read_bytes()) == len(whole) + len(encode(61, rows(60, 5)))


def test_a_corrupt_record_ends_the_sound_part(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20)
    journal.append(rows(0, 10))
    journal.append(rows(10, 10))
    journal.close()
    (segment,) = tmp_path.glob(f"*{SUFFIX}")
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the second record's payload
    segment.write_bytes(bytes(data))
    again = Journal(tmp_path, max_bytes=1 << 20)
    assert again.opened.rows == 10 and again.opened.cut_bytes > 0
    assert read_all(again) == rows(0, 10)


def test_beyond_the_bound_the_oldest_unsent_rows_go_and_are_counted_exactly(tmp_path):
    journal = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=8 * 1024)
    appended = 0
    dropped = 0
    for k in range(400):
        dropped += journal.append(rows(k * 20, 20))
        appended += 20
        assert journal.size <= 64 * 1024
    assert dropped == journal.dropped > 0
    got = read_all(journal)
    assert len(got) + journal.dropped == appended
    assert got == rows(appended - len(got), len(got))  # the newest, in order


def test_rows_being_written_when_their_segment_goes_count_only_if_the_write_fails(tmp_path):
    journal = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=8 * 1024)
    journal.append(rows(0, 20))
    in_flight = journal.read(20)
    for k in range(1, 200):
        journal.append(rows(k * 20, 20))
    assert journal.dropped + journal.pending == 200 * 20 - 20  # the 20 in flight not counted
    journal.rewind()  # their write failed: now they are lost too
    assert journal.dropped + journal.pending == 200 * 20
    assert in_flight.last == 20


def test_a_write_that_succeeds_after_its_segment_went_is_not_a_loss(tmp_path):
    journal = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=8 * 1024)
    journal.append(rows(0, 20))
    batch = journal.read(20)
    for k in range(1, 200):
        journal.append(rows(k * 20, 20))
    journal.mark_sent(batch.last)
    journal.rewind()
    assert journal.dropped + journal.pending + 20 == 200 * 20


def test_an_empty_journal_begins_a_new_numbering_under_a_new_id(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 20)
    journal.append(rows(0, 5))
    old = journal.id
    journal.close()
    for segment in tmp_path.glob(f"*{SUFFIX}"):
        os.unlink(segment)
    again = Journal(tmp_path, max_bytes=1 << 20)
    assert again.id != old and again.next_seq == 1
    assert (tmp_path / ID_FILE).read_text().strip() == again.id


def test_the_bound_has_a_floor(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        Journal(tmp_path, max_bytes=100)


def test_the_newest_records_are_read_from_memory_the_rest_from_the_file(tmp_path):
    journal = Journal(tmp_path, max_bytes=1 << 24)
    for k in range(20):  # 20 x 4000 rows: more than the memory keeps
        journal.append(rows(k * 4000, 4000))
    assert journal._cache_rows <= CACHE_ROWS < 80_000
    from_memory = read_all(journal, size=10_000)
    journal.rewind()  # nothing sent: all of it again, from the file only
    assert journal._cache == {} and read_all(journal, size=10_000) == from_memory
    journal.close()
    again = Journal(tmp_path, max_bytes=1 << 24)
    assert read_all(again, size=7_000) == from_memory == rows(0, 80_000)
