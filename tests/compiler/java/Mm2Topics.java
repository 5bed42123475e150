import dev.ferry.mirror.RenameReplicationPolicy;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.mirror.ConfigPropertyFilter;
import org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter;
import org.apache.kafka.connect.mirror.DefaultReplicationPolicy;
import org.apache.kafka.connect.mirror.DefaultTopicFilter;
import org.apache.kafka.connect.mirror.MirrorSourceConnector;
import org.apache.kafka.connect.mirror.ReplicationPolicy;
import org.apache.kafka.connect.mirror.SourceAndTarget;
import org.apache.kafka.connect.mirror.TopicFilter;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Asks Kafka 4.3.1's own MirrorMaker 2 classes, and Ferry's rename policy, what they decide about
 * topic names. Run with the source launcher:
 *
 * <pre>java -cp '&lt;kafka lib&gt;/*:&lt;ferry-rename-policy.jar&gt;' Mm2Topics.java &lt; queries</pre>
 *
 * <p>One query per stdin line, tab-separated: {@code policy source target legacy new include}, where
 * policy is {@code default} (DefaultReplicationPolicy; {@code new} empty) or {@code rename}
 * (RenameReplicationPolicy with the single entry {@code legacy:new}), and include is the
 * {@code topics} value MM2 gets. One {@code RESULT <json>} line per query:
 *
 * <ul>
 *   <li>{@code refused}: the policy's configure threw ConfigException ({@code error}: its message);</li>
 *   <li>{@code replicated}: MirrorSourceConnector.shouldReplicateTopic(legacy) with that policy, the
 *       default topics.exclude and heartbeats replication on (null when refused);</li>
 *   <li>{@code predicates}: per name (legacy, new) the policy's isInternalTopic, isMM2InternalTopic,
 *       isCheckpointsTopic, isHeartbeatsTopic; the rename policy's looksLikeHeartbeats; whether the
 *       default topics.exclude drops it ({@code excluded}); the connector's isCycle.</li>
 * </ul>
 *
 * <p>The connector's test constructor, shouldReplicateTopic and isCycle are package-private, and
 * looksLikeHeartbeats is private: reflection reaches them (classpath, no module boundary).
 */
public final class Mm2Topics {

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isEmpty()) {
                System.out.println("RESULT " + answer(line.split("\t", -1)));
            }
        }
    }

    private static String answer(String[] q) throws Exception {
        String kind = q[0], source = q[1], target = q[2], legacy = q[3], renamed = q[4], include = q[5];
        ReplicationPolicy policy;
        String error = null;
        if (kind.equals("default")) {
            DefaultReplicationPolicy p = new DefaultReplicationPolicy();
            p.configure(Map.of());
            policy = p;
        } else {
            RenameReplicationPolicy p = new RenameReplicationPolicy();
            Map<String, Object> props = new HashMap<>();
            props.put(RenameReplicationPolicy.RENAMES_CONFIG, legacy + ":" + renamed);
            props.put(RenameReplicationPolicy.SOURCE_CLUSTER_ALIAS_CONFIG, source);
            try {
                p.configure(props);
                policy = p;
            } catch (ConfigException e) {
                error = e.getMessage();
                DefaultReplicationPolicy fallback = new DefaultReplicationPolicy();
                fallback.configure(Map.of());
                policy = fallback;
            }
        }
        Object connector = connector(source, target, policy, include);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("policy", kind);
        out.put("source", source);
        out.put("target", target);
        out.put("legacy", legacy);
        out.put("new", renamed);
        out.put("refused", error != null);
        out.put("error", error);
        out.put("replicated", error != null ? null : call(connector, "shouldReplicateTopic", legacy));
        Map<String, Object> predicates = new LinkedHashMap<>();
        Object everything = connector(source, target, policy, ".*");
        for (String name : new String[] {legacy, renamed}) {
            if (name.isEmpty()) {
                continue;
            }
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("isInternalTopic", policy.isInternalTopic(name));
            p.put("isMM2InternalTopic", policy.isMM2InternalTopic(name));
            p.put("isCheckpointsTopic", policy.isCheckpointsTopic(name));
            p.put("isHeartbeatsTopic", policy.isHeartbeatsTopic(name));
            p.put("looksLikeHeartbeats", looksLikeHeartbeats(name));
            p.put("excluded", !filter(".*").shouldReplicateTopic(name));
            p.put("isCycle", call(everything, "isCycle", name));
            predicates.put(name, p);
        }
        out.put("predicates", predicates);
        return json(out);
    }

    /** MirrorSourceConnector(sourceAndTarget, policy, topicFilter, configPropertyFilter, heartbeatsReplicationEnabled). */
    private static Object connector(String source, String target, ReplicationPolicy policy, String include)
            throws ReflectiveOperationException {
        Constructor<MirrorSourceConnector> c = MirrorSourceConnector.class.getDeclaredConstructor(
                SourceAndTarget.class, ReplicationPolicy.class, TopicFilter.class, ConfigPropertyFilter.class,
                boolean.class);
        c.setAccessible(true);
        return c.newInstance(new SourceAndTarget(source, target), policy, filter(include),
                new DefaultConfigPropertyFilter(), true);
    }

    private static TopicFilter filter(String include) {
        DefaultTopicFilter f = new DefaultTopicFilter();
        f.configure(Map.of(DefaultTopicFilter.TOPICS_INCLUDE_CONFIG, include));
        return f;
    }

    private static boolean call(Object connector, String method, String topic) throws ReflectiveOperationException {
        Method m = MirrorSourceConnector.class.getDeclaredMethod(method, String.class);
        m.setAccessible(true);
        return (Boolean) m.invoke(connector, topic);
    }

    private static boolean looksLikeHeartbeats(String topic) throws ReflectiveOperationException {
        Method m = RenameReplicationPolicy.class.getDeclaredMethod(
                "looksLikeHeartbeats", String.class, DefaultReplicationPolicy.class, String.class);
        m.setAccessible(true);
        try {
            return (Boolean) m.invoke(null, topic, new DefaultReplicationPolicy(),
                    DefaultReplicationPolicy.SEPARATOR_DEFAULT);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    private static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Boolean) {
            return value.toString();
        }
        if (value instanceof Map<?, ?> map) {
            StringBuilder out = new StringBuilder("{");
            map.forEach((k, v) -> {
                if (out.length() > 1) {
                    out.append(',');
                }
                out.append(json(k)).append(':').append(json(v));
            });
            return out.append('}').toString();
        }
        StringBuilder out = new StringBuilder("\"");
        for (char ch : value.toString().toCharArray()) {
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        out.append(String.format("\\u%04x", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
