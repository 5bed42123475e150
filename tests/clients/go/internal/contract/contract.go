// Package contract is the driver contract of tests/clients/README.md for the Go drivers: the
// request, the RESULT line, a watchdog that keeps every action inside its bound, and the
// bookkeeping of observe. Each driver (sarama, franzgo, kafkago) supplies the four actions
// and calls Main; everything it has in common with the others lives here.
//
// The bound works on two levels. Every action gets a context that expires after timeout_s, and
// the drivers pass it to the library wherever the library takes one. Some calls take none
// (sarama's constructors, closing a client that still has work in flight), so Main also
// arms a watchdog: when the action has not returned WatchdogGrace after its deadline, the
// driver reports that the library did not return and exits 0. A library that hangs is a
// finding, not a driver crash.
package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
)

// WatchdogGrace is how long after timeout_s an action may still take to return (closing a
// client included) before the driver reports the overrun itself. The matrix allows 30 s.
const WatchdogGrace = 20 * time.Second

// CloseGrace bounds closing a client at the end of an action: Close can wait for records in
// flight, a group leave that a fenced connection never answers, or (kafka-go's Reader) a
// fetch long poll of up to MaxWait, 10 s by default.
const CloseGrace = 15 * time.Second

// ErrorTextLimit and MaxErrors are the README's bounds on observe's error texts.
const (
	ErrorTextLimit = 300
	MaxErrors      = 5
)

// SASL is the request's sasl object; the drivers support SCRAM-SHA-512 only.
type SASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	Password  string `json:"password"`
}

// Request is the one argument a driver gets. Fields that are null arrive as zero values.
type Request struct {
	Action    string            `json:"action"`
	Bootstrap string            `json:"bootstrap"`
	ClientID  string            `json:"client_id"`
	SASL      *SASL             `json:"sasl"`
	Topic     string            `json:"topic"`
	Group     string            `json:"group"`
	Count     int               `json:"count"`
	Role      string            `json:"role"`
	TimeoutS  float64           `json:"timeout_s"`
	Options   map[string]string `json:"options"`
}

// Timeout is timeout_s as a duration.
func (r Request) Timeout() time.Duration {
	return time.Duration(r.TimeoutS * float64(time.Second))
}

// Key and Value are the record contents produce writes: k<i>, v<i>.
func Key(i int) string   { return fmt.Sprintf("k%d", i) }
func Value(i int) string { return fmt.Sprintf("v%d", i) }

// Library is one driver. Each action returns when its context expires at the latest (or the
// watchdog reports it); errors the library reported are results, not reasons to exit non-zero.
type Library struct {
	// Name is the library's name as the matrix shows it ("sarama", "franz-go", "kafka-go").
	Name string
	// Module is the Go module path, whose version the build recorded (the "version" field).
	Module string
	// Options lists the request options the driver understands; any other is refused.
	Options []string

	Metadata func(ctx context.Context, req Request) (brokers []string, clusterID *string, err error)
	Produce  func(ctx context.Context, req Request) (produced int, err error)
	Consume  func(ctx context.Context, req Request) (values []string, committed bool, err error)
	Observe  func(ctx context.Context, req Request, obs *Observation)
}

// Main runs the request in os.Args[1] and prints the RESULT line; it does not return.
func Main(lib Library) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s '<request JSON>' (see tests/clients/README.md)\n", os.Args[0])
		os.Exit(2)
	}
	var req Request
	if err := json.Unmarshal([]byte(os.Args[1]), &req); err != nil {
		fmt.Fprintf(os.Stderr, "the request is not valid JSON: %v\n", err)
		os.Exit(2)
	}
	result := map[string]any{"library": lib.Name, "version": ModuleVersion(lib.Module)}
	if problem := check(lib, req); problem != "" {
		finish(result, errors.New(problem))
	}
	ctx, cancel := context.WithTimeout(context.Background(), req.Timeout())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, lib, req, result) }()
	select {
	case err := <-done:
		finish(result, err)
	case <-time.After(req.Timeout() + WatchdogGrace):
		// The action goroutine still writes to result; report from a fresh map.
		fmt.Fprintf(os.Stderr, "watchdog: %s did not return within %s\n", req.Action, req.Timeout()+WatchdogGrace)
		finish(map[string]any{"library": lib.Name, "version": ModuleVersion(lib.Module)},
			fmt.Errorf("%s did not return within timeout_s + %s (the library ignored its deadline)",
				req.Action, WatchdogGrace))
	}
}

func check(lib Library, req Request) string {
	switch {
	case req.Action != "metadata" && req.Action != "produce" && req.Action != "consume" && req.Action != "observe":
		return fmt.Sprintf("unknown action %q (expected metadata, produce, consume or observe)", req.Action)
	case req.Bootstrap == "":
		return "bootstrap is empty"
	case req.TimeoutS <= 0:
		return "timeout_s must be positive"
	case req.SASL != nil && req.SASL.Mechanism != "SCRAM-SHA-512":
		return fmt.Sprintf("sasl mechanism %q is not supported by this driver (only SCRAM-SHA-512)", req.SASL.Mechanism)
	case req.Action == "observe" && req.Role != "producer" && req.Role != "consumer":
		return fmt.Sprintf("observe needs role producer or consumer, not %q", req.Role)
	}
	for name := range req.Options {
		if !contains(lib.Options, name) {
			supported := "none"
			if len(lib.Options) > 0 {
				supported = strings.Join(lib.Options, ", ")
			}
			return fmt.Sprintf("option %q is not supported by the %s driver (supported: %s)", name, lib.Name, supported)
		}
	}
	return ""
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func run(ctx context.Context, lib Library, req Request, result map[string]any) error {
	switch req.Action {
	case "metadata":
		brokers, clusterID, err := lib.Metadata(ctx, req)
		sort.Strings(brokers)
		if brokers == nil {
			brokers = []string{}
		}
		result["brokers"], result["cluster_id"] = brokers, clusterID
		return err
	case "produce":
		produced, err := lib.Produce(ctx, req)
		result["produced"] = produced
		if err == nil && produced != req.Count {
			err = fmt.Errorf("%d of %d records acknowledged", produced, req.Count)
		}
		return err
	case "consume":
		values, committed, err := lib.Consume(ctx, req)
		if values == nil {
			values = []string{}
		}
		result["values"], result["committed"] = values, committed
		if err == nil && len(values) != req.Count {
			err = fmt.Errorf("read %d of %d records within %s", len(values), req.Count, req.Timeout())
		}
		return err
	default:
		obs := &Observation{over: ctx.Done()}
		// Observe returns soon after ctx expires, unless a library call it is in ignores the
		// deadline (a constructor waiting out a 30 s read timeout on a silent peer). What was
		// seen by then is the result either way; the call is left behind.
		returned := make(chan struct{})
		go func() {
			lib.Observe(ctx, req, obs)
			close(returned)
		}()
		select {
		case <-returned:
		case <-ctx.Done():
			select {
			case <-returned:
			case <-time.After(CloseGrace):
				fmt.Fprintf(os.Stderr, "observe: the %s calls had not returned %s after the end; left them\n",
					lib.Name, CloseGrace)
			}
		}
		errs, delivered, fatal := obs.snapshot()
		result["errors"], result["delivered"], result["fatal"] = errs, delivered, fatal
		return nil
	}
}

func finish(result map[string]any, err error) {
	result["ok"] = err == nil
	if err != nil {
		result["error"] = err.Error()
	}
	line, marshalErr := json.Marshal(result)
	if marshalErr != nil {
		fmt.Fprintf(os.Stderr, "cannot encode the result: %v\n", marshalErr)
		os.Exit(3)
	}
	fmt.Printf("RESULT %s\n", line)
	os.Exit(0)
}

// ModuleVersion is the version of module the binary was built with, from its build info.
func ModuleVersion(module string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == module {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "unknown"
}

// CloseWithin runs closeFn and waits for it at most CloseGrace; past that it leaves it running
// (the process exits right after the result) and says so on stderr.
func CloseWithin(what string, closeFn func()) {
	done := make(chan struct{})
	started := time.Now()
	go func() {
		closeFn()
		close(done)
	}()
	select {
	case <-done:
		fmt.Fprintf(os.Stderr, "closed the %s in %.1f s\n", what, time.Since(started).Seconds())
	case <-time.After(CloseGrace):
		fmt.Fprintf(os.Stderr, "closing the %s took longer than %s; left it\n", what, CloseGrace)
	}
}

// Observation collects what an application saw during observe. Safe for concurrent use:
// library callbacks and loggers report from their own goroutines. Once the observation is
// over, reports are dropped: what the driver's own shutdown causes (records failed by Close,
// "context deadline exceeded") is not something the application saw.
type Observation struct {
	over      <-chan struct{}
	mu        sync.Mutex
	errors    []string
	delivered int
	fatal     bool
}

// Error records a text the application saw: distinct texts only, at most MaxErrors, each cut
// to ErrorTextLimit characters.
func (o *Observation) Error(text string) {
	text = strings.TrimSpace(text)
	if len(text) > ErrorTextLimit {
		text = text[:ErrorTextLimit]
	}
	if text == "" || o.ended() {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.errors) < MaxErrors && !contains(o.errors, text) {
		o.errors = append(o.errors, text)
	}
}

// Delivered counts records acknowledged (producer) or read (consumer).
func (o *Observation) Delivered(n int) {
	if o.ended() {
		return
	}
	o.mu.Lock()
	o.delivered += n
	o.mu.Unlock()
}

// Fatal says the library declared the client unusable for good.
func (o *Observation) Fatal() {
	if o.ended() {
		return
	}
	o.mu.Lock()
	o.fatal = true
	o.mu.Unlock()
}

func (o *Observation) ended() bool {
	select {
	case <-o.over:
		return true
	default:
		return false
	}
}

func (o *Observation) snapshot() ([]string, int, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string{}, o.errors...), o.delivered, o.fatal
}

// EverySecond calls attempt(0) now and attempt(i) once a second after, until ctx expires: the
// producer side of observe. attempt must not block; a library without an asynchronous send
// runs each attempt in a goroutine, so a slow attempt does not delay the next one.
func EverySecond(ctx context.Context, attempt func(i int)) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for i := 0; ; i++ {
		attempt(i)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Pause waits d or until ctx expires, whichever is first; it reports whether ctx is still live.
func Pause(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// LogWriter is an io.Writer for a library's logger: it copies every line to stderr with the
// prefix and hands it to seen (nil: stderr only).
type LogWriter struct {
	Prefix string
	Seen   func(line string)
	mu     sync.Mutex
	buf    []byte
}

func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		end := strings.IndexByte(string(w.buf), '\n')
		if end < 0 {
			return len(p), nil
		}
		line := string(w.buf[:end])
		w.buf = w.buf[end+1:]
		fmt.Fprintf(os.Stderr, "%s%s\n", w.Prefix, line)
		if w.Seen != nil {
			w.Seen(line)
		}
	}
}
