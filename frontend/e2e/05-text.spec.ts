import { expect, test } from '@playwright/test';
import { addLabels, apiClient, createProject, file, labeledCount, openTab, signIn, uploadOnDataTab } from './helpers';

test('label text lines and Save Current Page', async ({ page }) => {
  await signIn(page);
  const project = await createProject(page, /Text Classification/, 'reviews');
  await uploadOnDataTab(page, [file('text', 'corpus.txt')], 6); // one sample per line
  await openTab(page, 'Labeling');
  await addLabels(page, ['positive', 'negative']);
  const lines = page.locator('.text-line');
  await expect(lines).toHaveCount(6);
  await lines.nth(0).click();
  await page.keyboard.press('1');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('2');
  await expect(lines.nth(0)).toContainText('positive');
  await expect(lines.nth(1)).toContainText('negative');
  const api = await apiClient();
  expect(await labeledCount(api, project.datasetId)).toBe(0); // nothing saved before "Save Current Page"
  await page.getByRole('button', { name: 'Save Current Page' }).click();
  await expect.poll(() => labeledCount(api, project.datasetId)).toBe(2);
});
