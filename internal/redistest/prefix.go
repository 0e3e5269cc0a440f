package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

// Prefix returns a key prefix of the test's own on c and deletes its keys when the test ends.
// Tests find their keys through the prefix only to clean up; the stores never scan.
func Prefix(tb testing.TB, c rueidis.Client) string {
	tb.Helper()
	prefix := "gatehouse-test:" + gatehouse.NewID(time.Now()) + ":"
	tb.Cleanup(func() { DeletePrefix(c, prefix) })
	return prefix
}

// DeletePrefix deletes every key under prefix, within 10 seconds.
func DeletePrefix(c rueidis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return
		}
		if len(e.Elements) > 0 {
			c.Do(ctx, c.B().Unlink().Key(e.Elements...).Build())
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}
