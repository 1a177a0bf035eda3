package broker_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"example.com/leaderboard/internal/broker"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// A member that never left its group (a process that died, or ClickHouse's
// Kafka engine, which does not leave when chDB closes) is not restored by a
// restart of the embedded broker: it would hold the group's next rebalance
// for its whole session timeout.
func TestRestartEvictsLeftoverMembers(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	emb, err := broker.StartEmbedded(addr, dir)
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addr()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// join without ever leaving, as a crashed consumer would
	join := func() string {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = "g1", "consumer", 45000, 60000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0, 0, 0}}}
		for {
			resp, err := req.RequestWith(ctx, cl)
			require.NoError(t, err)
			if resp.ErrorCode == 79 { // MEMBER_ID_REQUIRED: join again with the id
				req.MemberID = resp.MemberID
				continue
			}
			require.Zero(t, resp.ErrorCode)
			return resp.MemberID
		}
	}
	member := join()
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g1", member, 1
	_, err = sync.RequestWith(ctx, cl)
	require.NoError(t, err)
	members := func(adm *kadm.Client) int {
		d, err := adm.DescribeGroups(ctx, "g1")
		require.NoError(t, err)
		return len(d["g1"].Members)
	}
	require.Equal(t, 1, members(kadm.NewClient(cl)))
	cl.Close()
	emb.Close()

	emb, err = broker.StartEmbedded(addr, dir)
	require.NoError(t, err)
	defer emb.Close()
	adm, err := broker.NewAdmin([]string{emb.Addr()})
	require.NoError(t, err)
	defer adm.Close()
	require.Zero(t, members(adm), "the leftover member is gone")
}
