// The sarama driver of the client matrix (tests/clients/README.md): one action per run.
//
// Every sarama object here (client, producers, consumer group, cluster admin) is made from one
// Config, so Config.ClientID reaches all of them; a forgotten ClientID sends "sarama". Beyond
// the request, the driver sets only what the contract needs: Producer.Return.Successes
// (SyncProducer refuses to start without it) and Consumer.Offsets.Initial = OffsetOldest (the
// contract's "offset reset: earliest"; sarama's default is OffsetNewest).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"ferry.test/clients/internal/contract"
)

func main() {
	contract.Main(contract.Library{
		Name:     "sarama",
		Module:   "github.com/IBM/sarama",
		Options:  []string{"version"},
		Metadata: metadata,
		Produce:  produce,
		Consume:  consume,
		Observe:  observe,
	})
}

// useLogger sends sarama's log (silent by default) to stderr, and lines that report a problem
// to seen as well.
func useLogger(seen func(string)) {
	w := &contract.LogWriter{Prefix: "[sarama] "}
	if seen != nil {
		w.Seen = func(line string) {
			if reportsProblem(line) {
				seen(line)
			}
		}
	}
	sarama.Logger = log.New(w, "", 0)
}

// sarama logs progress and problems alike through one unlevelled logger; these words mark the
// problems ("client/metadata got error from broker -1 while fetching metadata: EOF",
// "Failed to connect to broker ...", "kafka: client has run out of available brokers ...").
var problemWords = []string{"error", "fail", "unable", "could not", "run out of", "eof", "refused", "timeout"}

func reportsProblem(line string) bool {
	lower := strings.ToLower(line)
	for _, w := range problemWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func config(req contract.Request) (*sarama.Config, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = req.ClientID
	if req.SASL != nil {
		cfg.Net.SASL.Enable = true
		cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		cfg.Net.SASL.User = req.SASL.Username
		cfg.Net.SASL.Password = req.SASL.Password
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
	if v, ok := req.Options["version"]; ok {
		version, err := sarama.ParseKafkaVersion(v)
		if err != nil {
			return nil, fmt.Errorf("option version: %w", err)
		}
		cfg.Version = version
	}
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg, cfg.Validate()
}

// scramClient is sarama's SCRAMClient on xdg-go/scram (sarama ships the interface, not an
// implementation).
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *scramClient) Done() bool                            { return c.conv.Done() }

func metadata(_ context.Context, req contract.Request) ([]string, *string, error) {
	useLogger(nil)
	cfg, err := config(req)
	if err != nil {
		return nil, nil, err
	}
	client, err := sarama.NewClient([]string{req.Bootstrap}, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer contract.CloseWithin("client", func() { _ = client.Close() })
	var brokers []string
	for _, b := range client.Brokers() {
		brokers = append(brokers, b.Addr())
	}
	// The client keeps the cluster id of no response; ask one broker for it.
	broker := client.LeastLoadedBroker()
	if broker == nil {
		return brokers, nil, errors.New("the client knows no broker to ask for the cluster id")
	}
	resp, err := broker.GetMetadata(sarama.NewMetadataRequest(cfg.Version, nil))
	if err != nil {
		return brokers, nil, err
	}
	return brokers, resp.ClusterID, nil
}

func produce(_ context.Context, req contract.Request) (int, error) {
	useLogger(nil)
	cfg, err := config(req)
	if err != nil {
		return 0, err
	}
	producer, err := sarama.NewSyncProducer([]string{req.Bootstrap}, cfg)
	if err != nil {
		return 0, err
	}
	defer contract.CloseWithin("producer", func() { _ = producer.Close() })
	msgs := make([]*sarama.ProducerMessage, req.Count)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic: req.Topic, Key: sarama.StringEncoder(contract.Key(i)), Value: sarama.StringEncoder(contract.Value(i)),
		}
	}
	err = producer.SendMessages(msgs)
	var failed sarama.ProducerErrors
	if errors.As(err, &failed) {
		return req.Count - len(failed), err
	}
	if err != nil {
		return 0, err
	}
	return req.Count, nil
}

// reader is the consume action's group handler: it keeps the first `want` values, marks each
// one, and commits synchronously (session.Commit) after the last or when the time is up.
type reader struct {
	want   int
	stop   context.CancelFunc
	mu     sync.Mutex
	values []string
	last   int64
}

func (r *reader) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (r *reader) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (r *reader) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			r.mu.Lock()
			full := len(r.values) >= r.want
			if !full {
				r.values = append(r.values, string(msg.Value))
				r.last = msg.Offset
				sess.MarkMessage(msg, "")
				full = len(r.values) >= r.want
			}
			r.mu.Unlock()
			if full {
				sess.Commit()
				r.stop()
				return nil
			}
		case <-sess.Context().Done():
			sess.Commit()
			return nil
		}
	}
}

func consume(ctx context.Context, req contract.Request) ([]string, bool, error) {
	var logged []string
	var logMu sync.Mutex
	useLogger(func(line string) {
		logMu.Lock()
		logged = append(logged, line)
		logMu.Unlock()
	})
	cfg, err := config(req)
	if err != nil {
		return nil, false, err
	}
	client, err := sarama.NewClient([]string{req.Bootstrap}, cfg)
	if err != nil {
		return nil, false, err
	}
	defer contract.CloseWithin("client", func() { _ = client.Close() })
	group, err := sarama.NewConsumerGroupFromClient(req.Group, client)
	if err != nil {
		return nil, false, err
	}
	reading, stop := context.WithCancel(ctx)
	defer stop()
	r := &reader{want: req.Count, stop: stop, last: -1}
	var consumeErr error
	for reading.Err() == nil {
		if err := group.Consume(reading, []string{req.Topic}, r); err != nil {
			consumeErr = err
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				break
			}
			contract.Pause(reading, 500*time.Millisecond)
		}
	}
	contract.CloseWithin("consumer group", func() { _ = group.Close() })
	r.mu.Lock()
	values, last := append([]string{}, r.values...), r.last
	r.mu.Unlock()
	if last < 0 {
		return values, false, consumeErr
	}
	// session.Commit reports nothing back (a failure goes to the log); read the committed
	// offset to know whether it landed.
	committed, err := committedOffset(client, req)
	if err != nil {
		return values, false, fmt.Errorf("reading back the committed offset: %w", err)
	}
	if committed != last+1 {
		logMu.Lock()
		defer logMu.Unlock()
		return values, false, fmt.Errorf("committed offset is %d, expected %d; sarama logged: %s",
			committed, last+1, strings.Join(logged, " | "))
	}
	return values, true, nil
}

func committedOffset(client sarama.Client, req contract.Request) (int64, error) {
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return 0, err
	}
	resp, err := admin.ListConsumerGroupOffsets(req.Group, map[string][]int32{req.Topic: {0}})
	if err != nil {
		return 0, err
	}
	block := resp.GetBlock(req.Topic, 0)
	if block == nil {
		return 0, fmt.Errorf("no offset for %s/0 in the answer", req.Topic)
	}
	if !errors.Is(block.Err, sarama.ErrNoError) {
		return 0, block.Err
	}
	return block.Offset, nil
}

func observe(ctx context.Context, req contract.Request, obs *contract.Observation) {
	useLogger(obs.Error)
	cfg, err := config(req)
	if err != nil {
		obs.Error(err.Error())
		obs.Fatal()
		return
	}
	if req.Role == "producer" {
		observeProducer(ctx, req, cfg, obs)
	} else {
		observeConsumer(ctx, req, cfg, obs)
	}
}

// sarama's constructors connect before they return and give up after Metadata.Retry.Max
// attempts ("kafka: client has run out of available brokers to talk to"). An application
// then has no client at all; the driver counts that as fatal and, like a supervisor that
// restarts the application, tries again a second later.
func until[T any](ctx context.Context, obs *contract.Observation, build func() (T, error)) (T, bool) {
	for {
		made, err := build()
		if err == nil {
			return made, true
		}
		obs.Error(err.Error())
		obs.Fatal()
		if !contract.Pause(ctx, time.Second) {
			var zero T
			return zero, false
		}
	}
}

func observeProducer(ctx context.Context, req contract.Request, cfg *sarama.Config, obs *contract.Observation) {
	producer, ok := until(ctx, obs, func() (sarama.SyncProducer, error) {
		return sarama.NewSyncProducer([]string{req.Bootstrap}, cfg)
	})
	if !ok {
		return
	}
	contract.EverySecond(ctx, func(i int) {
		go func() {
			msg := &sarama.ProducerMessage{Topic: req.Topic, Value: sarama.StringEncoder(contract.Value(i))}
			if _, _, err := producer.SendMessage(msg); err != nil {
				obs.Error(err.Error())
				if errors.Is(err, sarama.ErrClosedClient) || errors.Is(err, sarama.ErrShuttingDown) {
					obs.Fatal()
				}
				return
			}
			obs.Delivered(1)
		}()
	})
	contract.CloseWithin("producer", func() { _ = producer.Close() })
}

type counter struct{ obs *contract.Observation }

func (c counter) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c counter) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (c counter) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		c.obs.Delivered(1)
		sess.MarkMessage(msg, "")
	}
	return nil
}

func observeConsumer(ctx context.Context, req contract.Request, cfg *sarama.Config, obs *contract.Observation) {
	group, ok := until(ctx, obs, func() (sarama.ConsumerGroup, error) {
		return sarama.NewConsumerGroup([]string{req.Bootstrap}, req.Group, cfg)
	})
	if !ok {
		return
	}
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{req.Topic}, counter{obs}); err != nil {
			obs.Error(err.Error())
			if errors.Is(err, sarama.ErrClosedConsumerGroup) || errors.Is(err, sarama.ErrClosedClient) {
				obs.Fatal()
				return
			}
			contract.Pause(ctx, time.Second)
		}
	}
	contract.CloseWithin("consumer group", func() { _ = group.Close() })
}
