/** The Noid Java SDK: {@link dev.noid.client.NoidClient} and its typed errors. */
package dev.noid.client;
