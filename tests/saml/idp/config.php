<?php
/*
 * SimpleSAMLphp 1.19 configuration of a test IdP for dadm.
 *
 * This file is copied unchanged into RUN_DIR/config/ by tests/saml/idp.sh;
 * every value that differs between instances (port, paths, salt, names) is
 * read from instance.json, written next to it by idp.sh.  Only for tests:
 * plain HTTP on 127.0.0.1, test users with known passwords.
 */

$instance = json_decode(file_get_contents(__DIR__ . '/instance.json'), true);
if (!is_array($instance)) {
    throw new Exception('dadm test IdP: unreadable ' . __DIR__ . '/instance.json');
}
$run = $instance['run_dir'];
$tag = $instance['name'];

$config = [
    /* php -S serves /usr/share/simplesamlphp/www at the root of the port. */
    'baseurlpath' => $instance['base_url'] . '/',

    'certdir' => $run . '/cert/',
    'loggingdir' => $run . '/log/',
    'datadir' => $run . '/data/',
    'tempdir' => $run . '/tmp/',
    'metadatadir' => __DIR__ . '/metadata/',
    'attributenamemapdir' => '/usr/share/simplesamlphp/config/attributemap/',

    'technicalcontact_name' => 'dadm tests',
    'technicalcontact_email' => 'na@' . $instance['domain'],

    'secretsalt' => $instance['secret_salt'],
    'auth.adminpassword' => $instance['admin_password'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    'timezone' => 'Europe/Paris',

    /* Redirects (logout ReturnTo, RelayState URLs) only to ourselves and the SP. */
    'trusted.url.domains' => $instance['trusted_hosts'],
    'trusted.url.regex' => false,
    'enable.http_post' => false,
    'assertion.allowed_clock_skew' => 180,

    'debug' => [
        'saml' => (bool) $instance['debug'],
        'backtraces' => true,
        'validatexml' => false,
    ],
    'showerrors' => true,
    'errorreporting' => false,

    'logging.level' => $instance['debug'] ? SimpleSAML\Logger::DEBUG : SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.processname' => 'idp-' . $tag,
    'statistics.out' => [],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,

    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => true,
    ],

    /*
     * Sessions.  php -S runs one PHP process; PHP's own session files in the
     * run dir are enough.  Both test IdPs live on 127.0.0.1 and browsers do
     * not separate cookies by port, so every cookie name carries the instance
     * name.  Plain HTTP: no Secure flag, no SameSite=None.
     */
    'store.type' => 'phpsession',
    'session.duration' => 8 * 60 * 60,
    'session.datastore.timeout' => 4 * 60 * 60,
    'session.state.timeout' => 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID_' . $tag,
    'session.cookie.lifetime' => 0,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => 'SimpleSAML_' . $tag,
    'session.phpsession.savepath' => $run . '/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken_' . $tag,
    'session.rememberme.enable' => false,

    'language.available' => ['fr', 'en'],
    'language.rtl' => [],
    'language.default' => 'fr',
    'language.parameter.name' => 'language',
    'language.parameter.setcookie' => true,
    'language.cookie.name' => 'language_' . $tag,
    'language.cookie.domain' => null,
    'language.cookie.path' => '/',
    'language.cookie.secure' => false,
    'language.cookie.httponly' => true,
    'language.cookie.lifetime' => 60 * 60,
    'language.cookie.samesite' => null,

    'theme.use' => 'default',
    'template.auto_reload' => false,
    'production' => false,

    'metadata.sources' => array_merge(
        [['type' => 'flatfile', 'directory' => __DIR__ . '/metadata/']],
        $instance['sp_metadata_sources']
    ),
    'metadata.sign.enable' => false,

    'proxy' => null,
];
