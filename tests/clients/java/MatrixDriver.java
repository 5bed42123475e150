// The Java driver of the client compatibility matrix (kafka-clients 4.3.1; the contract is
// tests/clients/README.md). toolchain_java.py compiles it once and runs
//   java -cp 'CLASSES:LIB/*' MatrixDriver '<request JSON>'
// One action per run; the last stdout line is `RESULT <json>`. Every client (Admin, KafkaProducer,
// KafkaConsumer) gets the request's client.id, SASL settings and `options`, verbatim; everything
// else is the library's default, except where the contract needs otherwise (said where it is set).
// Log4j2 (the clients log through SLF4J to it) is set up here: every line to stderr, and each
// WARN or ERROR line kept as a text the application saw.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

public class MatrixDriver {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int MAX_ERRORS = 5;
    static final int MAX_ERROR_CHARS = 300;
    // How long closing a client may take once the action is over (it is not part of the action).
    static final Duration CLOSE_BOUND = Duration.ofSeconds(5);

    static final List<String> errors = new ArrayList<>();
    static JsonNode req;
    static long deadline;

    public static void main(String[] args) throws Exception {
        req = JSON.readTree(args[0]);
        deadline = System.currentTimeMillis() + (long) (req.get("timeout_s").asDouble() * 1000);
        captureLogs();
        ObjectNode result = JSON.createObjectNode();
        result.put("library", "java");
        result.put("version", org.apache.kafka.common.utils.AppInfoParser.getVersion());
        String action = req.get("action").asText();
        switch (action) {
            case "metadata" -> metadata(result);
            case "produce" -> produce(result);
            case "consume" -> consume(result);
            case "observe" -> observe(result);
            default -> throw new IllegalArgumentException("unknown action " + action);
        }
        synchronized (errors) {
            result.set("errors", JSON.valueToTree(errors));
        }
        System.out.println("RESULT " + JSON.writeValueAsString(result));
        System.out.flush();
        // A client thread that ignored its close (a producer blocked in send) must not keep the JVM.
        Runtime.getRuntime().halt(0);
    }

    static void seen(String text) {
        String cut = text.length() > MAX_ERROR_CHARS ? text.substring(0, MAX_ERROR_CHARS) : text;
        synchronized (errors) {
            if (errors.size() < MAX_ERRORS && !errors.contains(cut)) errors.add(cut);
        }
    }

    static String describe(Throwable e) {
        String text = e.getClass().getName() + ": " + e.getMessage();
        return e.getCause() != null && e.getCause() != e ? text + " (cause: " + describe(e.getCause()) + ")" : text;
    }

    static long left() {
        return Math.max(deadline - System.currentTimeMillis(), 1);
    }

    // ---- logging

    static void captureLogs() {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        Configuration config = ctx.getConfiguration();
        AbstractAppender appender = new AbstractAppender("matrix", null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                String logger = event.getLoggerName();
                String message = event.getMessage().getFormattedMessage();
                // The "<X>Config values:" dump of every client is a page long and says nothing here.
                if (!logger.endsWith("Config")) {
                    System.err.println(event.getLevel() + " [" + logger + "] " + message);
                }
                if (event.getLevel().isMoreSpecificThan(Level.WARN)) {
                    Throwable thrown = event.getThrown();
                    seen(logger.substring(logger.lastIndexOf('.') + 1) + ": " + message
                            + (thrown == null ? "" : " (" + describe(thrown) + ")"));
                }
            }
        };
        appender.start();
        LoggerConfig root = config.getRootLogger();
        for (String name : List.copyOf(root.getAppenders().keySet())) root.removeAppender(name);
        root.addAppender(appender, Level.INFO, null);
        root.setLevel(Level.INFO);
        ctx.updateLoggers();
    }

    // ---- client configuration

    static Properties base() {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, req.get("bootstrap").asText());
        p.put(CommonClientConfigs.CLIENT_ID_CONFIG, req.get("client_id").asText());
        JsonNode sasl = req.get("sasl");
        if (sasl != null && !sasl.isNull()) {
            p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
            p.put("sasl.mechanism", sasl.get("mechanism").asText());
            p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                    + sasl.get("username").asText() + "\" password=\"" + sasl.get("password").asText() + "\";");
        }
        JsonNode options = req.get("options");
        if (options != null && !options.isNull()) {
            for (Map.Entry<String, JsonNode> option : options.properties()) {
                p.put(option.getKey(), option.getValue().asText());
            }
        }
        return p;
    }

    static KafkaProducer<String, String> producer() {
        Properties p = base();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(boolean autoCommit) {
        Properties p = base();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, req.get("group").asText());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (!autoCommit) p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static void fail(ObjectNode result, Throwable e) {
        result.put("ok", false);
        result.put("error", describe(e instanceof java.util.concurrent.ExecutionException && e.getCause() != null
                ? e.getCause() : e));
    }

    // ---- actions

    static void metadata(ObjectNode result) {
        Admin admin = Admin.create(base());
        try {
            DescribeClusterResult cluster = admin.describeCluster();
            Set<String> brokers = new TreeSet<>();
            for (Node node : cluster.nodes().get(left(), TimeUnit.MILLISECONDS)) {
                brokers.add(node.host() + ":" + node.port());
            }
            String clusterId = cluster.clusterId().get(left(), TimeUnit.MILLISECONDS);
            result.put("ok", true);
            result.set("brokers", JSON.valueToTree(brokers));
            result.put("cluster_id", clusterId);
        } catch (Exception e) {
            fail(result, e);
            result.set("brokers", JSON.createArrayNode());
            result.putNull("cluster_id");
        } finally {
            admin.close(CLOSE_BOUND);
        }
    }

    static void produce(ObjectNode result) {
        int count = req.get("count").asInt();
        String topic = req.get("topic").asText();
        int acked = 0;
        KafkaProducer<String, String> producer = producer();
        try {
            List<Future<?>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) sent.add(producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
            for (Future<?> f : sent) {
                f.get(left(), TimeUnit.MILLISECONDS);
                acked++;
            }
            result.put("ok", true);
        } catch (Exception e) {
            fail(result, e);
        } finally {
            result.put("produced", acked);
            producer.close(CLOSE_BOUND);
        }
    }

    static void consume(ObjectNode result) {
        int count = req.get("count").asInt();
        String topic = req.get("topic").asText();
        List<String> values = new ArrayList<>();
        boolean committed = false;
        // Auto-commit off: on close it would commit the position, which is past every record the
        // last poll fetched, not just the `count` we read; we commit right after the last one read.
        KafkaConsumer<String, String> consumer = consumer(false);
        try {
            consumer.subscribe(List.of(topic));
            ConsumerRecord<String, String> last = null;
            while (values.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(Math.min(500, left())))) {
                    if (values.size() >= count) break;
                    values.add(r.value());
                    last = r;
                }
            }
            if (last != null) {
                consumer.commitSync(Map.of(new TopicPartition(last.topic(), last.partition()),
                        new OffsetAndMetadata(last.offset() + 1)), Duration.ofMillis(Math.max(left(), 5000)));
                committed = true;
            }
            result.put("ok", values.size() == count);
            if (values.size() != count) result.put("error", "read " + values.size() + " of " + count + " records in time");
        } catch (Exception e) {
            fail(result, e);
        } finally {
            result.set("values", JSON.valueToTree(values));
            result.put("committed", committed);
            consumer.close(CloseOptions.timeout(CLOSE_BOUND));
        }
    }

    // `fatal`: the client refuses further use: it was closed under the application (an
    // IllegalStateException), or the producer raised one of the errors its documentation calls
    // fatal (the application must close it), or says it is in a fatal error state.
    static boolean isFatal(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof IllegalStateException || t instanceof ProducerFencedException
                    || t instanceof OutOfOrderSequenceException || t instanceof AuthorizationException
                    || t instanceof UnsupportedVersionException
                    || String.valueOf(t.getMessage()).contains("fatal error state")) {
                return true;
            }
        }
        return false;
    }

    static void observe(ObjectNode result) throws InterruptedException {
        AtomicInteger delivered = new AtomicInteger();
        AtomicBoolean fatal = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        String topic = req.get("topic").asText();
        boolean producer = req.get("role").asText().equals("producer");
        KafkaProducer<String, String> p = producer ? producer() : null;
        KafkaConsumer<String, String> c = producer ? null : consumer(true);
        // The application: its own thread, so a send() blocked on metadata (up to max.block.ms,
        // 60 s by default) cannot hold the driver past the window.
        Thread app = new Thread(() -> {
            if (producer) {
                for (int i = 0; !stop.get(); i++) {
                    long started = System.currentTimeMillis();
                    try {
                        p.send(new ProducerRecord<>(topic, "k" + i, "v" + i), (meta, e) -> {
                            if (stop.get()) {
                                return;  // failed by the driver's own close at the window's end
                            } else if (e == null) {
                                delivered.incrementAndGet();
                            } else {
                                seen(describe(e));
                                if (isFatal(e)) fatal.set(true);
                            }
                        });
                    } catch (Exception e) {
                        if (stop.get()) return;
                        seen(describe(e));
                        if (isFatal(e)) fatal.set(true);
                    }
                    sleepQuietly(1000 - (System.currentTimeMillis() - started));
                }
            } else {
                try {
                    c.subscribe(List.of(topic));
                    while (!stop.get()) {
                        try {
                            delivered.addAndGet(c.poll(Duration.ofMillis(500)).count());
                        } catch (WakeupException e) {
                            break;
                        } catch (Exception e) {
                            seen(describe(e));
                            if (isFatal(e)) fatal.set(true);
                            sleepQuietly(500);
                        }
                    }
                } finally {
                    c.close(CloseOptions.timeout(CLOSE_BOUND));
                }
            }
        }, "application");
        app.setDaemon(true);
        app.start();
        Thread.sleep(left());
        stop.set(true);
        if (producer) {
            p.close(Duration.ofSeconds(1));
        } else {
            c.wakeup();
        }
        app.join(CLOSE_BOUND.toMillis());
        result.put("ok", true);
        result.put("delivered", delivered.get());
        result.put("fatal", fatal.get());
    }

    static void sleepQuietly(long ms) {
        if (ms <= 0) return;
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
