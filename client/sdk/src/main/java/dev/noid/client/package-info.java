/** The Noid Java SDK: {@code NoidClient} and its typed errors. */
package dev.noid.client;
