package dev.ferry.mirror;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.mirror.DefaultReplicationPolicy;
import org.apache.kafka.connect.mirror.ReplicationPolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.StringJoiner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RenameReplicationPolicyTest {

    private static final String SOURCE = "legacy";
    private static final String TARGET = "new";
    private static final String RENAMES = "orders:sales.orders.v1,payments:sales.payments.v1,audit:audit";

    /** Names of every kind the policy must answer for. */
    private static final List<String> SAMPLE_NAMES = List.of(
            "orders", "payments", "audit", "sales.orders.v1", "sales.payments.v1",
            "unmapped", "legacy.unmapped", "new.orders", "app-heartbeats",
            "heartbeats", "legacy.heartbeats", "new.legacy.heartbeats",
            "mm2-offset-syncs.new.internal", "legacy.checkpoints.internal", "__consumer_offsets",
            "mm2-configs.legacy.internal", ".hidden");

    private static Map<String, String> props(String renames) {
        Map<String, String> props = new HashMap<>();
        props.put("source.cluster.alias", SOURCE);
        props.put("target.cluster.alias", TARGET);
        props.put(RenameReplicationPolicy.RENAMES_CONFIG, renames);
        return props;
    }

    private static RenameReplicationPolicy policy(String renames) {
        RenameReplicationPolicy policy = new RenameReplicationPolicy();
        policy.configure(props(renames));
        return policy;
    }

    private static DefaultReplicationPolicy defaults() {
        DefaultReplicationPolicy policy = new DefaultReplicationPolicy();
        policy.configure(props(RENAMES));
        return policy;
    }

    // ---- forward: formatRemoteTopic

    @Test
    void mappedTopicsGetTheirNewName() {
        RenameReplicationPolicy policy = policy(RENAMES);
        assertEquals("sales.orders.v1", policy.formatRemoteTopic(SOURCE, "orders"));
        assertEquals("sales.payments.v1", policy.formatRemoteTopic(SOURCE, "payments"));
        assertEquals("audit", policy.formatRemoteTopic(SOURCE, "audit"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"unmapped", "legacy.unmapped", "app-heartbeats", "sales.orders.v1"})
    void unmappedTopicsKeepTheirName(String topic) {
        assertEquals(topic, policy(RENAMES).formatRemoteTopic(SOURCE, topic));
    }

    @Test
    void mapAppliesOnlyToTheConfiguredSourceCluster() {
        assertEquals("orders", policy(RENAMES).formatRemoteTopic("other", "orders"));
    }

    @Test
    void heartbeatsAreFormattedLikeTheDefault() {
        RenameReplicationPolicy policy = policy(RENAMES);
        assertEquals("legacy.heartbeats", policy.formatRemoteTopic(SOURCE, "heartbeats"));
        assertEquals("legacy.other.heartbeats", policy.formatRemoteTopic(SOURCE, "other.heartbeats"));
        assertEquals(defaults().formatRemoteTopic(SOURCE, "heartbeats"),
                policy.formatRemoteTopic(SOURCE, "heartbeats"));
    }

    // ---- backward: topicSource and upstreamTopic

    @Test
    void newNamesMapBackToTheSourceAndLegacyName() {
        RenameReplicationPolicy policy = policy(RENAMES);
        assertEquals(SOURCE, policy.topicSource("sales.orders.v1"));
        assertEquals("orders", policy.upstreamTopic("sales.orders.v1"));
        assertEquals(SOURCE, policy.topicSource("audit"));
        assertEquals("audit", policy.upstreamTopic("audit"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"orders", "payments", "unmapped", "legacy.unmapped", "new.orders",
        "app-heartbeats", "heartbeats", "__consumer_offsets", "legacy.checkpoints.internal"})
    void everyOtherNameIsNotRemote(String topic) {
        RenameReplicationPolicy policy = policy(RENAMES);
        assertNull(policy.topicSource(topic), topic);
        assertNull(policy.upstreamTopic(topic), topic);
    }

    @Test
    void remoteHeartbeatsAreParsedLikeTheDefault() {
        RenameReplicationPolicy policy = policy(RENAMES);
        DefaultReplicationPolicy defaults = defaults();
        for (String topic : List.of("legacy.heartbeats", "new.legacy.heartbeats", "heartbeats")) {
            assertEquals(defaults.topicSource(topic), policy.topicSource(topic), topic);
            assertEquals(defaults.upstreamTopic(topic), policy.upstreamTopic(topic), topic);
        }
        assertEquals("legacy", policy.topicSource("legacy.heartbeats"));
        assertEquals("heartbeats", policy.upstreamTopic("legacy.heartbeats"));
    }

    @Test
    void sourceIsNeverKnownWithoutUpstream() {
        RenameReplicationPolicy policy = policy(RENAMES);
        for (String topic : SAMPLE_NAMES) {
            if (policy.topicSource(topic) != null) {
                assertNotNull(policy.upstreamTopic(topic), topic);
            }
        }
    }

    // ---- originalTopic and the walks MM2 does over the policy

    @Test
    void originalTopicRoundTrips() {
        RenameReplicationPolicy policy = policy(RENAMES);
        for (String legacy : policy.renames().keySet()) {
            String remote = policy.formatRemoteTopic(SOURCE, legacy);
            assertEquals(legacy, policy.originalTopic(remote));
            assertEquals(legacy, policy.upstreamTopic(remote));
            assertEquals(remote, policy.formatRemoteTopic(SOURCE, policy.upstreamTopic(remote)));
        }
        assertEquals("unmapped", policy.originalTopic("unmapped"));
        assertEquals("heartbeats", policy.originalTopic("new.legacy.heartbeats"));
    }

    @Test
    void mm2WalksTerminateAndFindNoCycles() {
        RenameReplicationPolicy policy = policy(RENAMES);
        for (String topic : SAMPLE_NAMES) {
            // MirrorSourceConnector.isCycle(topic) for the legacy->new flow: only a heartbeat that
            // came from the target cluster is one, as with the default policy.
            assertEquals(topic.equals("new.legacy.heartbeats"), isCycle(policy, topic, TARGET), topic);
            allSources(policy, topic);
        }
        assertEquals(Set.of(SOURCE), allSources(policy, "sales.orders.v1"));
        assertEquals(Set.of(SOURCE), allSources(policy, "audit"));
        assertEquals(Set.of(), allSources(policy, "unmapped"));
        assertTrue(isCycle(policy, "new.heartbeats", TARGET));
    }

    /** MirrorSourceConnector.isCycle: follow topicSource/upstreamTopic until it ends or meets the target. */
    private static boolean isCycle(ReplicationPolicy policy, String topic, String targetAlias) {
        for (int hops = 0; hops < 100; hops++) {
            String source = policy.topicSource(topic);
            if (source == null) {
                return false;
            }
            if (source.equals(targetAlias)) {
                return true;
            }
            String upstream = policy.upstreamTopic(topic);
            if (upstream == null || upstream.equals(topic)) {
                return false;
            }
            topic = upstream;
        }
        throw new AssertionError("upstreamTopic walk did not end for " + topic);
    }

    /** MirrorClient.allSources, bounded so a broken policy fails the test instead of hanging it. */
    private static Set<String> allSources(ReplicationPolicy policy, String topic) {
        Set<String> sources = new HashSet<>();
        String source = policy.topicSource(topic);
        for (int hops = 0; source != null && !sources.contains(source); hops++) {
            assertTrue(hops < 100, "topicSource walk did not end for " + topic);
            sources.add(source);
            topic = policy.upstreamTopic(topic);
            source = policy.topicSource(topic);
        }
        return sources;
    }

    // ---- inherited defaults

    @Test
    void internalTopicHelpersAreTheDefaults() {
        RenameReplicationPolicy policy = policy(RENAMES);
        DefaultReplicationPolicy defaults = defaults();
        assertEquals("heartbeats", policy.heartbeatsTopic());
        assertEquals(defaults.offsetSyncsTopic(SOURCE), policy.offsetSyncsTopic(SOURCE));
        assertEquals("mm2-offset-syncs.legacy.internal", policy.offsetSyncsTopic(SOURCE));
        assertEquals("legacy.checkpoints.internal", policy.checkpointsTopic(SOURCE));
        for (String topic : SAMPLE_NAMES) {
            assertEquals(defaults.isCheckpointsTopic(topic), policy.isCheckpointsTopic(topic), topic);
            assertEquals(defaults.isMM2InternalTopic(topic), policy.isMM2InternalTopic(topic), topic);
            assertEquals(defaults.isInternalTopic(topic), policy.isInternalTopic(topic), topic);
        }
        assertTrue(policy.isInternalTopic("__consumer_offsets"));
        assertTrue(policy.isMM2InternalTopic("mm2-offset-syncs.new.internal"));
        assertFalse(policy.isInternalTopic("sales.orders.v1"));
    }

    @Test
    void heartbeatsTopicsAreRecognised() {
        RenameReplicationPolicy policy = policy(RENAMES);
        assertTrue(policy.isHeartbeatsTopic("heartbeats"));
        assertTrue(policy.isHeartbeatsTopic("legacy.heartbeats"));
        assertTrue(policy.isHeartbeatsTopic("new.legacy.heartbeats"));
        assertFalse(policy.isHeartbeatsTopic("app-heartbeats"));
        assertFalse(policy.isHeartbeatsTopic("sales.orders.v1"));
    }

    @Test
    void customSeparatorIsHonouredForHeartbeatsAndInternalTopics() {
        Map<String, String> props = props(RENAMES);
        props.put("replication.policy.separator", "_");
        RenameReplicationPolicy policy = new RenameReplicationPolicy();
        policy.configure(props);
        assertEquals("legacy_heartbeats", policy.formatRemoteTopic(SOURCE, "heartbeats"));
        assertEquals("legacy", policy.topicSource("legacy_heartbeats"));
        assertNull(policy.topicSource("legacy.heartbeats"));
        assertEquals("mm2-offset-syncs_legacy_internal", policy.offsetSyncsTopic(SOURCE));
        assertEquals("sales.orders.v1", policy.formatRemoteTopic(SOURCE, "orders"));
    }

    // ---- configure

    @Test
    void configureIsIdempotentAndDeterministic() {
        RenameReplicationPolicy policy = policy(RENAMES);
        Map<String, String> first = Map.copyOf(policy.renames());
        policy.configure(props(RENAMES));
        policy.configure(props("audit:audit, payments:sales.payments.v1 ,orders:sales.orders.v1"));
        assertEquals(first, policy.renames());
        assertEquals(SOURCE, policy.sourceClusterAlias());
        assertEquals("sales.orders.v1", policy.formatRemoteTopic(SOURCE, "orders"));
    }

    @Test
    void reconfigureReplacesTheMap() {
        RenameReplicationPolicy policy = policy(RENAMES);
        policy.configure(props("orders:sales.orders.v2"));
        assertEquals("sales.orders.v2", policy.formatRemoteTopic(SOURCE, "orders"));
        assertNull(policy.topicSource("sales.orders.v1"));
    }

    @Test
    void failedConfigureKeepsTheLastGoodState() {
        RenameReplicationPolicy policy = policy(RENAMES);
        Map<String, String> bad = props("a:b,b:a");
        bad.put("replication.policy.separator", "_");
        assertThrows(ConfigException.class, () -> policy.configure(bad));
        assertEquals("sales.orders.v1", policy.formatRemoteTopic(SOURCE, "orders"));
        assertEquals("legacy.heartbeats", policy.formatRemoteTopic(SOURCE, "heartbeats"));
        assertEquals("mm2-offset-syncs.legacy.internal", policy.offsetSyncsTopic(SOURCE));
    }

    @Test
    void emptyRenamesMeanIdentityForDataTopics() {
        RenameReplicationPolicy policy = policy("");
        assertEquals("orders", policy.formatRemoteTopic(SOURCE, "orders"));
        assertNull(policy.topicSource("orders"));
        assertEquals("legacy.heartbeats", policy.formatRemoteTopic(SOURCE, "heartbeats"));
    }

    @Test
    void unconfiguredPolicyIsIdentity() {
        RenameReplicationPolicy policy = new RenameReplicationPolicy();
        assertEquals("orders", policy.formatRemoteTopic(SOURCE, "orders"));
        assertNull(policy.topicSource("orders"));
        assertNull(policy.sourceClusterAlias());
    }

    @Test
    void missingRenamesKeyIsAnError() {
        Map<String, String> props = props(RENAMES);
        props.remove(RenameReplicationPolicy.RENAMES_CONFIG);
        String message = assertThrows(ConfigException.class,
                () -> new RenameReplicationPolicy().configure(props)).getMessage();
        assertTrue(message.contains("replication.policy.ferry.renames is not set"), message);
    }

    @Test
    void renamesWithoutSourceAliasAreAnError() {
        Map<String, String> props = props(RENAMES);
        props.remove("source.cluster.alias");
        String message = assertThrows(ConfigException.class,
                () -> new RenameReplicationPolicy().configure(props)).getMessage();
        assertTrue(message.contains("source.cluster.alias is not set"), message);

        props.put(RenameReplicationPolicy.RENAMES_CONFIG, "");
        new RenameReplicationPolicy().configure(props);
    }

    @ParameterizedTest
    @ValueSource(strings = {"heartbeats:x", "x:heartbeats", "x:legacy.heartbeats", "__consumer_offsets:x",
        "x:mm2-offset-syncs.legacy.internal", "x:legacy.checkpoints.internal", ".hidden:x"})
    void internalAndHeartbeatsNamesCannotBeMapped(String renames) {
        String message = assertThrows(ConfigException.class, () -> policy(renames)).getMessage();
        assertTrue(message.contains("is an internal or heartbeats topic"), message);
    }

    @Test
    void malformedMapNamesTheBadEntry() {
        String message = assertThrows(ConfigException.class,
                () -> policy("orders:sales.orders.v1,payments")).getMessage();
        assertTrue(message.contains("entry 2 'payments' has no ':'"), message);
        assertTrue(message.contains("replication.policy.ferry.renames"), message);
    }

    @Test
    void isConfiguredTheWayMirrorMakerDoes() {
        // MirrorClientConfig and MirrorConnectorConfig both call AbstractConfig.getConfiguredInstance,
        // which hands every original property (unknown keys included) to configure().
        Map<String, String> props = props(RENAMES);
        props.put("replication.policy.class", RenameReplicationPolicy.class.getName());
        props.put("unrelated.connector.setting", "ignored");
        ConfigDef def = new ConfigDef().define("replication.policy.class", ConfigDef.Type.CLASS,
                DefaultReplicationPolicy.class, ConfigDef.Importance.LOW, "as in MirrorClientConfig");
        ReplicationPolicy policy = new AbstractConfig(def, props)
                .getConfiguredInstance("replication.policy.class", ReplicationPolicy.class);
        RenameReplicationPolicy rename = assertInstanceOf(RenameReplicationPolicy.class, policy);
        assertEquals("sales.orders.v1", rename.formatRemoteTopic(SOURCE, "orders"));
        assertEquals(SOURCE, rename.topicSource("sales.orders.v1"));
    }

    // ---- randomised invariants

    @Test
    void randomMapsAreBijectionsEveryComponentAgreesOn() {
        Random random = new Random(20240601L);
        for (int round = 0; round < 200; round++) {
            Map<String, String> expected = new LinkedHashMap<>();
            Set<String> used = new HashSet<>();
            int size = random.nextInt(20);
            while (expected.size() < size) {
                String legacy = randomTopic(random);
                String renamed = random.nextInt(10) == 0 ? legacy : randomTopic(random);
                if (used.contains(legacy) || used.contains(renamed)) {
                    continue;
                }
                used.add(legacy);
                used.add(renamed);
                expected.put(legacy, renamed);
            }
            List<String> entries = new ArrayList<>();
            expected.forEach((legacy, renamed) -> entries.add(legacy + ":" + renamed));
            java.util.Collections.shuffle(entries, random);
            StringJoiner joined = new StringJoiner(",");
            entries.forEach(joined::add);

            RenameReplicationPolicy policy = policy(joined.toString());
            assertEquals(expected, policy.renames());
            for (Map.Entry<String, String> e : expected.entrySet()) {
                String remote = policy.formatRemoteTopic(SOURCE, e.getKey());
                assertEquals(e.getValue(), remote);
                assertEquals(SOURCE, policy.topicSource(remote));
                assertEquals(e.getKey(), policy.upstreamTopic(remote));
                assertEquals(e.getKey(), policy.originalTopic(remote));
                assertFalse(isCycle(policy, remote, TARGET));
                if (!e.getKey().equals(e.getValue())) {
                    assertNull(policy.topicSource(e.getKey()));
                }
            }
        }
    }

    private static String randomTopic(Random random) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-";
        int length = 1 + random.nextInt(12);
        StringBuilder name = new StringBuilder("t");
        for (int i = 0; i < length; i++) {
            name.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        String topic = name.toString();
        return topic.endsWith("heartbeats") || topic.endsWith(".internal") ? topic + "x" : topic;
    }
}
