"""The host's memory as the card CPU runs are fitted against."""

from swiftkit.memory.host import host_memory_card


def test_host_memory_card_reads_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:   8192000 kB\n"
    )
    card = host_memory_card(meminfo)
    assert (card.total_bytes, card.free_bytes) == (16384000 * 1024, 8192000 * 1024)
    assert host_memory_card(tmp_path / "missing") is None
