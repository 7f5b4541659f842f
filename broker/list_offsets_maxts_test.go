package broker

import (
	"testing"
	"time"
)

// ListOffsets -3 (KIP-734) once DeleteRecords moved the log start past the
// record with the largest timestamp answers the largest among the records
// left, not "no offset".
func TestListOffsetsMaxTimestampAfterDeleteRecords(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "lomax", 1, nil)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	produceRaw(t, cl, "lomax", 0, -1, encodeBatch(t0+5000, -1, -1, -1, []testRecord{{value: []byte("a"), ts: 0}}))
	produceRaw(t, cl, "lomax", 0, -1, encodeBatch(t0, -1, -1, -1, []testRecord{{value: []byte("b"), ts: 0}, {value: []byte("c"), ts: 10}}))
	if p := deleteRecords(t, cl, "lomax", 1); p.ErrorCode != 0 || p.LowWatermark != 1 {
		t.Fatalf("delete records: err %d low watermark %d", p.ErrorCode, p.LowWatermark)
	}
	if p := listOffsets(t, b, 7, "lomax", -3); p.ErrorCode != 0 || p.Offset != 2 || p.Timestamp != t0+10 {
		t.Fatalf("max timestamp: offset %d ts %d err %d; want offset 2 ts %d", p.Offset, p.Timestamp, p.ErrorCode, t0+10)
	}
}
