import { expect, request, type APIRequestContext, type Page } from '@playwright/test';
import path from 'node:path';

export const KEY = process.env.EXEML_E2E_KEY ?? '';
export const FILES = process.env.EXEML_E2E_FILES ?? '';
export const file = (...parts: string[]) => path.join(FILES, ...parts);

export async function signIn(page: Page, key = KEY): Promise<void> {
  await page.goto('/signin');
  await page.locator('input[name=apiKey]').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'ExeML Projects' })).toBeVisible();
}

/** The API with the admin key, to check what the clicks did. */
export async function apiClient(): Promise<APIRequestContext> {
  return request.newContext({ baseURL: process.env.EXEML_E2E_URL, extraHTTPHeaders: { Authorization: `Bearer ${KEY}` } });
}

export async function getJson<T = any>(api: APIRequestContext, url: string): Promise<T> {
  const response = await api.get(url);
  expect(response.status(), `${url}: ${await response.text()}`).toBe(200);
  return (await response.json()) as T;
}

// Project names are unique per tenant: a suffix per run lets the suite run twice against one platform.
// EXEML_E2E_SUFFIX='' keeps the plain names (the screenshots in docs/ are taken after such a run).
const RUN = process.env.EXEML_E2E_SUFFIX ?? Date.now().toString(36);

export interface Created {
  name: string;
  projectId: string;
  datasetId: string;
}

/** Create a project by clicks; returns its id and its dataset's id. */
export async function createProject(page: Page, type: RegExp, base: string, fill: Record<string, string> = {}): Promise<Created> {
  const name = RUN ? `${base}-${RUN}` : base;
  await page.goto('/projects');
  await page.getByRole('button', { name: '+ Create Project' }).click();
  await page.getByRole('radio', { name: type }).click();
  await page.locator('input[name=name]').fill(name);
  for (const [field, value] of Object.entries(fill)) await page.locator(`[name=${field}]`).fill(value);
  await page.getByRole('button', { name: 'Create Project' }).click();
  await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
  const projectId = page.url().split('/projects/')[1].split('/')[0];
  const api = await apiClient();
  const project = await getJson(api, `/v1/projects/${projectId}`);
  return { name, projectId, datasetId: project.dataset_id };
}

/** Open a tab of the project page and wait until it is shown: React Router renders a navigation as a
 *  transition, so right after the click the previous tab can still be on screen (the Data and Labeling tabs
 *  both have a "New label" field: a label typed there was lost when the Labeling tab replaced it). */
export async function openTab(page: Page, name: string): Promise<void> {
  const link = page.getByRole('link', { name, exact: true });
  await link.click();
  await expect(link).toHaveAttribute('aria-current', 'page');
}

export async function uploadOnDataTab(page: Page, paths: string[], samples = paths.length): Promise<void> {
  await openTab(page, 'Data');
  await page.getByLabel('Upload files').setInputFiles(paths);
  await expect(page.getByRole('status').filter({ hasText: 'file(s) stored' })).toContainText(`${samples} file(s) stored`);
}

export async function addLabels(page: Page, names: string[]): Promise<void> {
  for (const name of names) {
    await page.getByLabel('New label', { exact: true }).fill(name);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect(page.locator('aside').getByRole('cell', { name, exact: true })).toBeVisible();
  }
}

export async function labeledCount(api: APIRequestContext, datasetId: string): Promise<number> {
  return (await getJson(api, `/v1/datasets/${datasetId}/annotations/stats`)).sample_stats.labeled;
}
